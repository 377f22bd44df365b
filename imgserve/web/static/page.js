// The URL builder: the form's fields become a query string on /image/<id>; the result is fetched,
// shown with its size in bytes, and its URL can be copied. The responsive markup for the same options
// comes from /srcset/<id> (which picks format, dpr and scale itself). Under signing (an operator tool),
// each URL is first signed by the server's /ui/sign. Nothing here runs on the gallery view.
"use strict";
(() => {
  const form = document.getElementById("builder");
  if (!form) return;
  const urlField = document.getElementById("url");
  const facts = document.getElementById("facts");
  const result = document.getElementById("result");
  let latest = 0;
  let objectUrl = null;
  let timer = null;

  const markup = document.getElementById("markup");
  const markupFacts = document.getElementById("markup-facts");
  const CHOSEN_BY_SRCSET = ["format", "dpr", "scale"];

  function built(base = form.dataset.base, skip = []) {
    const params = new URLSearchParams();
    for (const field of form.elements) {
      if (!field.name || skip.includes(field.name)) continue;
      if (field.type === "checkbox") {
        if (field.checked) params.append(field.name, field.value);
      } else if (field.value.trim() !== "") {
        params.append(field.name, field.value.trim());
      }
    }
    const query = params.toString();
    return base + (query ? "?" + query : "");
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

  async function problem(response) {
    try {
      const body = await response.json();
      return new Error(`${response.status} ${body.title}: ${body.detail}`);
    } catch {
      return new Error(`${response.status} ${response.statusText}`);
    }
  }

  async function signed(url) {
    if (form.dataset.signing !== "1") return url;
    const response = await fetch("/ui/sign?url=" + encodeURIComponent(url));
    if (!response.ok) throw await problem(response);
    return (await response.json()).url;
  }

  async function update() {
    const mine = ++latest;
    updateMarkup(mine);
    try {
      const url = await signed(built());
      urlField.value = new URL(url, location.href).href;
      facts.className = "";
      facts.textContent = "rendering…";
      const response = await fetch(url);
      if (!response.ok) throw await problem(response);
      const blob = await response.blob();
      if (mine !== latest) return;  // a newer URL was asked for meanwhile
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      result.onload = () => {
        facts.textContent = `${blob.size.toLocaleString("en")} bytes · ${result.naturalWidth} × ` +
          `${result.naturalHeight} · ${blob.type}`;
      };
      result.src = objectUrl;
      result.dataset.bytes = String(blob.size);
    } catch (error) {
      if (mine !== latest) return;
      facts.className = "error";
      facts.textContent = error.message;
    }
  }

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
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
