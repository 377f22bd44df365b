"""The settings table: every knob the service has, with its default and why it exists.

Each field of `Settings` is one row. Its metadata carries the parser for the text form (environment
variable `IMGSERVE_<NAME>` or a CLI flag) and the help line that `imgserve settings` prints, so the
table, the CLI and the docs cannot drift apart. Settings are parsed and checked once, at start-up;
an invalid value stops the service with a message naming the variable.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

PREFIX = "IMGSERVE_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,18}", text.strip()):
            raise ValueError(f"expected a whole number, got {text!r}")
        value = int(text.strip())
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return parse


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _path(text: str) -> Path:
    return Path(_text(text))


def _optional_path(text: str) -> Path | None:
    return Path(text.strip()) if text.strip() else None


def _number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,9})?", text.strip()):
            raise ValueError(f"expected a number like 2.5, got {text!r}")
        value = float(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {text.strip()}")
        return value

    return parse


def available_cores(affinity: int, cpu_max: str | None) -> int:
    """The CPUs this process may run on: its affinity mask, capped by a container's CPU quota (cgroup
    v2's cpu.max, "150000 100000" for `--cpus=1.5`, rounded up). os.cpu_count() counts the host's, and
    with a render slot per core a 2-CPU container on a 64-core host would decode 64 images at once."""
    try:
        quota, period = (cpu_max or "").split()
        return max(1, min(affinity, -(-int(quota) // int(period))))
    except (ValueError, ZeroDivisionError):  # "max" (no quota), no cgroup v2, or nonsense
        return max(1, affinity)


def _cpu_max() -> str | None:
    try:
        return Path("/sys/fs/cgroup/cpu.max").read_text()
    except OSError:
        return None


CORES = available_cores(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                        _cpu_max())


def _keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if any(len(k) < 16 for k in keys):
        raise ValueError("each key must be at least 16 characters")
    return keys


def _presets(text: str) -> Mapping[str, str]:
    """`thumb:w=300&h=300&fit=cover;avatar:w=64&h=64` -> {name: query}; options are checked by create_app."""
    presets = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, query = item.partition(":")
        if not sep or not re.fullmatch(r"[a-z0-9_-]{1,32}", name.strip()):
            raise ValueError(f"expected name:options items separated by ';', got {item!r}")
        presets[name.strip()] = query.strip()
    return MappingProxyType(presets)


_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*")


def normal_host(host: str) -> str:
    """A host as compared with the allow list: an IP address in canonical form, or a lower-case ASCII
    (IDNA) name without a trailing dot. ValueError for anything else."""
    host = host.strip().lower()
    try:
        return ip_address(host).compressed
    except ValueError:
        pass
    try:
        name = host.removesuffix(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a host name") from None
    if not _NAME.fullmatch(name):
        raise ValueError(f"{host!r} is not a host name")
    return name


def authority(host: str, port: int | None = None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def _hosts(text: str) -> tuple[str, ...]:
    """`images.example.com,cdn.example.com:8443,[::1]:9000` -> normalised `host[:port]` entries."""
    entries = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            if "/" in item or "@" in item or "?" in item or "#" in item:
                raise ValueError
            parts = urlsplit("//" + item)
            host, port = normal_host(parts.hostname or ""), parts.port
        except ValueError:
            raise ValueError(f"expected host or host:port items separated by ',', got {item!r}") from None
        if port == 0:
            raise ValueError(f"port 0 in {item!r}")
        entries.append(authority(host, port))
    return tuple(entries)


def _flag(text: str) -> bool:
    if text.strip() not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {text!r}")
    return text.strip() == "1"


def _optional_flag(text: str) -> bool | None:
    return _flag(text) if text.strip() else None


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text.strip()

    return parse


def setting(group: str, default: Any, parse: Callable[[str], Any], help: str, *, secret: bool = False,
            shown: str | None = None) -> Any:
    """One row of the table: its group (GROUPS), default, parser for the text form, and help line.
    `shown` is how the docs write a default that depends on the machine (`cores`)."""
    return field(default_factory=lambda: default,
                 metadata={"group": group, "parse": parse, "help": help, "secret": secret, "shown": shown})


MiB = 1024 * 1024
SPARE_THREADS = 32  # threads for requests that do not render: cache hits, 304s, /info, /metrics
# The groups of the table, in order: `imgserve settings` and docs/settings.md list the settings under these.
GROUPS = {
    "http": "HTTP: where the server listens and how many connections it takes",
    "sources": "Sources: where originals come from",
    "limits": "Limits: what one request may cost, and how much work runs at once",
    "cache": "Caching: the result cache and what clients and CDNs are told",
    "signing": "Signing and presets: who may ask for what",
    "output": "Output: how results are encoded",
    "logging": "Logging and the page",
}


@dataclass(frozen=True)
class Settings:
    host: str = setting("http", "127.0.0.1", _text, "address `imgserve serve` listens on")
    port: int = setting("http", 8080, _int(0, 65535), "port `imgserve serve` listens on")
    max_connections: int = setting("http", 1000, _int(1, 100000), "open connections waitress accepts; past "
                                   "that, new ones wait in the kernel's backlog. A connection costs a socket, not "
                                   "a thread, until its request has fully arrived")
    threads: int = setting("http", 0, _int(0, 10000), "waitress worker threads; 0: one per render slot, queue "
                           "place and remote download, plus 32 for cheap requests (health checks have 2 more of "
                           "their own)")
    header_timeout: float = setting("http", 10.0, _number(0.1, 3600), "seconds a client may take to send a "
                                    "request's line and headers, from its first byte; then 408 and the connection "
                                    "closes")
    body_min_rate: int = setting("http", 10240, _int(0), "slowest average rate, in bytes a second, at which a "
                                 "request body may arrive (checked once it has taken HEADER_TIMEOUT); then 408")
    idle_timeout: float = setting("http", 30.0, _number(1, 3600), "seconds a connection may stay open with "
                                  "nothing sent either way (a kept-alive one, or a client not reading its response)")
    shutdown_timeout: float = setting("http", 10.0, _number(0, 3600), "seconds `imgserve serve` waits for "
                                      "requests in progress after SIGTERM")
    client_hints: bool = setting("http", False, _flag, "1: size images by the browser's client hints (Sec-CH-DPR, "
                                 "Sec-CH-Width, Width) where the URL leaves room, announced with Accept-CH and "
                                 "listed in Vary")

    root: Path = setting("sources", Path("images"), _path, "folder of originals (relative to the working directory)")
    manifest: Path | None = setting("sources", None, _optional_path, "optional CSV of `id,path` rows mapping ids "
                                    "(e.g. archive numbers) to originals")
    remote_allow: tuple[str, ...] = setting("sources", (), _hosts, "comma-separated host[:port] that /fetch may "
                                            "read; a port also allows private addresses")
    remote_timeout: float = setting("sources", 10.0, _number(0.01, 600), "seconds one /fetch may take to read a "
                                    "remote image")
    remote_connect_timeout: float = setting("sources", 3.0, _number(0.01, 600), "seconds /fetch may take to "
                                            "connect")
    remote_max_redirects: int = setting("sources", 5, _int(0, 20), "redirects /fetch follows, each checked like "
                                        "the URL")
    remote_max_downloads: int = setting("sources", 8, _int(1, 1000), "remote images read at once (each up to "
                                        "MAX_SOURCE_BYTES); past that, 503")

    max_in_flight: int = setting("limits", CORES, _int(1, 1024), "images decoded and processed at once; one "
                                 "per core: a third slot on 2 cores added 3% to JPEG thumbnails, and about a "
                                 "fifth to peak memory and to the slowest answers on large PNGs", shown="cores")
    max_queue: int = setting("limits", 4 * CORES, _int(0, 10000), "requests that may wait for a slot; past that, "
                             "503", shown="4 x cores")
    queue_wait: float = setting("limits", 10.0, _number(0, 3600), "seconds a request may wait for a slot before a "
                                "503")
    max_memory: int = setting("limits", 2048 * MiB, _int(MiB), "bytes of memory all renders, the response "
                              "bodies being sent and the request bodies arriving may hold together; an image "
                              "needing more than all of it is a 422, a body that does not fit a 503")
    render_timeout: float = setting("limits", 30.0, _number(0.1, 3600), "seconds a render may take, checked after "
                                    "decoding and after every step")
    max_dimension: int = setting("limits", 8192, _int(1, 65500), "largest output width or height")
    max_pixels: int = setting("limits", 100_000_000, _int(1), "largest source (width x height) that will be decoded")
    max_animation_pixels: int = setting("limits", 100_000_000, _int(1), "frames x width x height an animated "
                                        "source may need decoded (every frame, or up to frame=<n>); past it, 422")
    max_scans: int = setting("limits", 100, _int(1, 100000), "most scans a progressive JPEG may have (each is a "
                             "pass over the whole image; real ones have about 10); past that, 422")
    max_metadata_bytes: int = setting("limits", 16 * MiB, _int(0), "most bytes a PNG's compressed metadata "
                                      "(text, ICC profile) may inflate to, all chunks together; past that, 422")
    max_source_bytes: int = setting("limits", 128 * MiB, _int(1), "largest original, in bytes, that will be read")
    max_body_bytes: int = setting("limits", 32 * MiB, _int(1), "largest request body (POST /process) that will be "
                                  "read, in bytes")
    max_blur: float = setting("limits", 50.0, _number(0.1, 1000), "largest `blur` sigma")
    max_sharpen: float = setting("limits", 10.0, _number(0.1, 100), "largest `sharpen` amount")

    cache_bytes: int = setting("cache", 256 * MiB, _int(0), "in-memory result cache budget in bytes; 0 turns it off")
    overlay_cache_bytes: int = setting("cache", 32 * MiB, _int(0), "decoded overlays (watermarks, logos) kept in "
                                       "memory, in bytes; 0 decodes each overlay every time")
    cache_max_age: int = setting("cache", 86400, _int(0), "seconds clients and CDNs may reuse a result "
                                 "(Cache-Control)")

    signing_keys: tuple[str, ...] = setting("signing", (), _keys, "comma-separated HMAC keys; when set, unsigned "
                                            "or wrongly signed URLs get 403", secret=True)
    presets: Mapping[str, str] = setting("signing", MappingProxyType({}), _presets, "named option sets, "
                                         "`name:w=300&fit=cover;other:...`, used as ?preset=name")
    presets_only: bool = setting("signing", False, _flag, "1: processing URLs may only use presets (preset=, "
                                 "format=auto)")

    png_effort: str = setting("output", "default", _one_of("fast", "default", "max"), "how hard the PNG writer "
                              "tries: `fast` (one filter, fastest deflate), `default` (filter and deflate library "
                              "chosen per image on a sample), `max` (for archives: bytes before time)")

    log_format: str = setting("logging", "plain", _one_of("plain", "json"), "log lines as `plain` text or one "
                              "`json` object each")
    ui: bool | None = setting("logging", None, _optional_flag, "the page at /: 1 on, 0 off; unset: on unless "
                              "signing is on (with signing, 1 also signs the page's URLs: internal use only)")

    @property
    def page_enabled(self) -> bool:
        """The page at / is on when asked for, and by default only where it cannot undermine signing."""
        return self.ui if self.ui is not None else not self.signing_keys

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `IMGSERVE_*` variables, then `overrides` (text is parsed, other values taken as is).
        SettingsError names every setting that cannot be used, one line each."""
        settings, invalid = cls.read(environ, **overrides)
        if invalid:
            raise SettingsError("\n".join(f"{PREFIX}{name.upper()}: {why}" for name, (_, why) in invalid.items()))
        return settings

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None,
             **overrides: Any) -> tuple[Settings, dict[str, tuple[Any, str]]]:
        """As `load`, but what cannot be used is returned, not raised: {name: (value given, why not)}, those
        settings left at their defaults. `imgserve settings` shows everything this way, wherever it runs."""
        environ = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        invalid: dict[str, tuple[Any, str]] = {}
        for f in fields(cls):
            raw = overrides.get(f.name, environ.get(PREFIX + f.name.upper()))
            if raw is None:
                continue
            if isinstance(raw, str):
                try:
                    raw = f.metadata["parse"](raw)
                except ValueError as error:
                    invalid[f.name] = (raw, str(error))
                    continue
            values[f.name] = raw
        settings = replace(cls(), **values)
        if not settings.threads:
            settings = replace(settings, threads=settings.max_in_flight + settings.max_queue
                               + settings.remote_max_downloads + SPARE_THREADS)
        for name, why in settings.unusable().items():
            invalid.setdefault(name, (getattr(settings, name), why))
        return settings, invalid

    def unusable(self) -> dict[str, str]:
        """The settings that parse but name something that is not there."""
        wrong = {}
        if not self.root.is_dir():
            where = "" if self.root.is_absolute() else f" (looked for {Path.cwd() / self.root})"
            wrong["root"] = (f"{str(self.root)!r} is not a readable folder{where}; pass --root or set "
                             f"{PREFIX}ROOT to the folder of your originals")
        if self.manifest is not None and not self.manifest.is_file():
            wrong["manifest"] = (f"{str(self.manifest)!r} is not a file; pass --manifest or set {PREFIX}MANIFEST "
                                 "to a CSV of id,path rows, or leave it unset")
        return wrong

    def rows(self) -> list[tuple[str, str, str]]:
        """(variable, current value, help) for every setting, in table order."""
        return [(PREFIX + f.name.upper(), _display(getattr(self, f.name), f.metadata["secret"]), f.metadata["help"])
                for f in fields(self)]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each `IMGSERVE_*` variable that is no setting (a typo is otherwise silently ignored),
    naming the closest setting."""
    known = {f.name.upper(): PREFIX + f.name.upper() for f in fields(Settings)}
    warnings = []
    for name in sorted(environ):
        if not name.upper().startswith(PREFIX) or name in known.values():
            continue
        typed = name.upper().removeprefix(PREFIX)
        # difflib finds the similar names; of those, the fewest edits wins (PROT is one swap from PORT, two
        # edits from ROOT, which difflib rates the same)
        close = sorted(difflib.get_close_matches(typed, known, n=4, cutoff=0.6), key=lambda k: _edits(typed, k))
        hint = f"did you mean {known[close[0]]}?" if close else "`imgserve settings` lists the settings"
        warnings.append(f"{name} is not a setting and is ignored; {hint}")
    return warnings


def _edits(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b`."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def by_group() -> dict[str, list[Any]]:
    """The table's fields under their groups, in GROUPS order."""
    groups: dict[str, list[Any]] = {name: [] for name in GROUPS}
    for f in fields(Settings):
        groups[f.metadata["group"]].append(f)
    return groups


def markdown() -> str:
    """docs/settings.md: every setting with its default and help, by group (`imgserve settings --markdown`)."""
    defaults = Settings()
    lines = ["# Settings", "",
             "Every setting is an environment variable `IMGSERVE_<NAME>` and a flag `--<name>` of `imgserve serve`",
             "(flags win). Invalid values stop start-up with a message naming the setting; `imgserve settings`",
             "prints the values in effect. This page is generated from the settings table (`imgserve/settings.py`)",
             "by `imgserve settings --markdown`; a test keeps it current.", ""]
    for group, rows in by_group().items():
        lines += [f"## {GROUPS[group]}", "", "| variable | default | meaning |", "|---|---|---|"]
        for f in rows:
            default = f.metadata["shown"] or _display(getattr(defaults, f.name), False) or "(unset)"
            help = f.metadata["help"].replace("|", "\\|")
            lines.append(f"| `{PREFIX}{f.name.upper()}` | `{default}` | {help} |")
        lines.append("")
    return "\n".join(lines)


def _display(value: Any, secret: bool) -> str:
    if secret and value:
        return f"({len(value)} set, not shown)"
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list, frozenset)):
        return ",".join(map(str, value))
    return str(value)
