// The page's script. In the gallery, a thumbnail the server refuses is replaced by the reason it gives.
// In the builder, the form's fields become a query string on /image/<id>; the result is fetched, shown
// with its size in bytes, and its URL can be copied. The responsive markup for the same options comes
// from /srcset/<id> (which picks format, dpr and scale itself). Under signing (an operator tool), each
// URL is first signed by the server's /ui/sign.
"use strict";
(() => {
  async function problem(response) {
    try {
      const body = await response.json();
      return new Error(`${response.status} ${body.title}: ${body.detail}`);
    } catch {
      return new Error(`${response.status} ${response.statusText}`);
    }
  }

  // -- the gallery: a broken original says why, instead of showing a broken-image icon ----------------
  async function explain(img) {
    let message = "the browser could not show this image";
    try {
      const response = await fetch(img.src);
      if (!response.ok) message = (await problem(response)).message;
    } catch (error) {
      message = error.message;
    }
    const box = document.createElement("span");
    box.className = "broken";
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", `${img.alt}: ${message}`);
    box.textContent = message;
    img.replaceWith(box);
  }

  function onFailure(img, then) {
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) then(img);  // failed before we ran
    else img.addEventListener("error", () => then(img), {once: true});
  }

  document.querySelectorAll(".grid li.image img").forEach((img) => onFailure(img, explain));
  document.querySelectorAll(".grid .preview img").forEach((img) => onFailure(img, (broken) => broken.remove()));

  // -- the builder ----------------------------------------------------------------------------------------
  const form = document.getElementById("builder");
  if (!form) return;
  const urlField = document.getElementById("url");
  const facts = document.getElementById("facts");
  const result = document.getElementById("result");
  const frame = document.getElementById("frame");
  const copied = document.getElementById("copied");
  let latest = 0;
  let objectUrl = null;
  let timer = null;

  const markup = document.getElementById("markup");
  const markupFacts = document.getElementById("markup-facts");
  const CHOSEN_BY_SRCSET = ["format", "dpr", "scale"];

  function built(base = form.dataset.base, skip = []) {
    const pairs = [];
    for (const field of form.elements) {
      if (!field.name || skip.includes(field.name)) continue;
      if (field.type === "checkbox") {
        if (field.checked) pairs.push([field.name, field.value]);
      } else if (field.value.trim() !== "") {
        pairs.push([field.name, field.value.trim()]);
      }
    }
    const query = pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join("&");
    return base + (query ? "?" + query : "");
  }

  // Commas need no escape in a query, and the server (and its signature check) reads them either way:
  // crop=0,0,40,30 is what a person can read and type, crop=0%2C0%2C40%2C30 is not.
  function readable(url) {
    const at = url.indexOf("?");
    return at < 0 ? url : url.slice(0, at) + url.slice(at).replace(/%2C/gi, ",");
  }

  async function signed(url) {
    if (form.dataset.signing !== "1") return url;
    const response = await fetch("/ui/sign?url=" + encodeURIComponent(url));
    if (!response.ok) throw await problem(response);
    return (await response.json()).url;
  }

  async function updateMarkup(mine) {
    try {
      const url = await signed(built(markup.dataset.base, CHOSEN_BY_SRCSET));
      const response = await fetch(url, {headers: {Accept: "application/json"}});
      if (!response.ok) throw await problem(response);
      const body = await response.json();
      if (mine !== latest) return;
      markup.value = body.html;
      markupFacts.className = "";
      markupFacts.textContent = `${body.width} × ${body.height} · ${body.sources.length + 1} formats · ` +
        `${body.img.srcset.length} widths · BlurHash ${body.placeholder ? body.placeholder.blurhash : "none"}`;
    } catch (error) {
      if (mine !== latest) return;
      markup.value = "";
      markupFacts.className = "error";
      markupFacts.textContent = error.message;
    }
  }

  function clearResult() {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
    result.onload = null;
    result.removeAttribute("src");
    delete result.dataset.bytes;
    frame.hidden = true;
  }

  async function update() {
    const mine = ++latest;
    updateMarkup(mine);
    try {
      const url = readable(await signed(built()));
      if (mine !== latest) return;
      urlField.value = new URL(url, location.href).href;
      facts.className = "";
      facts.textContent = "rendering…";
      const response = await fetch(url);
      if (!response.ok) throw await problem(response);
      const blob = await response.blob();
      if (mine !== latest) return;  // a newer URL was asked for meanwhile
      clearResult();
      objectUrl = URL.createObjectURL(blob);
      result.onload = () => {
        facts.textContent = `${blob.size.toLocaleString("en")} bytes · ${result.naturalWidth} × ` +
          `${result.naturalHeight} · ${blob.type}`;
      };
      result.src = objectUrl;
      result.dataset.bytes = String(blob.size);
      frame.hidden = false;
    } catch (error) {
      if (mine !== latest) return;
      clearResult();  // the result of an earlier URL must not stand beside this one's error
      facts.className = "error";
      facts.textContent = error.message;
    }
  }

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
  form.addEventListener("submit", (event) => {  // Enter in a field, or the Render button
    event.preventDefault();
    clearTimeout(timer);
    update();
  });
  document.getElementById("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(urlField.value);  // needs a secure context (https or localhost)
    } catch {
      urlField.select();
      document.execCommand("copy");
    }
    facts.dataset.copied = "1";
    copied.textContent = "Copied";
    setTimeout(() => { copied.textContent = ""; }, 2000);
  });
  document.getElementById("copy-markup").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(markup.value);
    } catch {
      markup.select();
      document.execCommand("copy");
    }
    markupFacts.dataset.copied = "1";
  });
  update();
})();
