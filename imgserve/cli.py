"""The `imgserve` command. Every setting is also a flag of `serve`, generated from the settings table."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import click

from . import DISTRIBUTION, formats
from .errors import Problem
from .options import OPTIONS, Options, parse
from .settings import CORES, PREFIX, Settings, SettingsError, unknown_variables


def setting_flags(command: Callable, names: Collection[str] | None = None) -> Callable:
    """One `--name` flag per row of the settings table (or the rows in `names`); unset flags leave the
    environment's value."""
    for f in reversed([f for f in fields(Settings) if names is None or f.name in names]):
        command = click.option(f"--{f.name.replace('_', '-')}", f.name, default=None, metavar="VALUE",
                               help=f"{f.metadata['help']} [{PREFIX}{f.name.upper()}]")(command)
    return command


NO_ROOT = {"root": "."}  # for commands that read no folder of originals: its check is not theirs


class StartupError(click.ClickException):
    """A setting that stops a command before it starts: `Error: <one line each>`, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        for line in self.message.splitlines():
            click.echo(f"Error: {line}", err=True)


def warn_unknown_variables() -> None:
    for warning in unknown_variables(os.environ):
        click.echo(f"Warning: {warning}", err=True)


def load_settings(flags: dict[str, Any]) -> Settings:
    warn_unknown_variables()
    try:
        return Settings.load(**{name: value for name, value in flags.items() if value is not None})
    except SettingsError as error:
        raise StartupError(str(error)) from None


@click.group()
@click.version_option(package_name=DISTRIBUTION)
def main() -> None:
    """On-the-fly image service: originals in a folder, thumbnails and web formats over HTTP."""


@main.command()
@setting_flags
def serve(**flags: Any) -> None:
    """Serve the originals under the root with waitress."""
    from .server.runner import serve

    settings = load_settings(flags)
    try:
        serve(settings)
    except SettingsError as error:  # found while starting: a preset, the manifest's rows, the port
        raise StartupError(str(error)) from None


@main.command()
@click.argument("url")
@click.option("--key", default=None, help="key to sign with [default: the first of IMGSERVE_SIGNING_KEYS]")
def sign(url: str, key: str | None) -> None:
    """Print URL (a path and query, e.g. '/image/x.jpg?w=300') with its signature `s` added. Spaces and
    other characters a URL cannot hold are percent-encoded (UTF-8); %XX escapes are kept as they are."""
    from urllib.parse import quote

    from .signing import sign_url

    keys = load_settings({**NO_ROOT, "signing_keys": key}).signing_keys  # the server's own rules for keys
    if not keys:
        raise click.UsageError("no key: pass --key or set IMGSERVE_SIGNING_KEYS")
    click.echo(sign_url(quote(url, safe="/?&=%:@!$'()*+,;~#"), keys[0]))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def info(file: str) -> None:
    """Print JSON facts about an image FILE, read from its headers: sizes, channels, depth, format, colour
    profile, animation."""
    import json

    from .imaging.facts import facts, read_header
    from .sources.folder import Original

    with open(file, "rb") as opened:
        stat = os.fstat(opened.fileno())
        original = Original(file, file, stat.st_size, stat.st_mtime_ns, opened.fileno())
        try:
            header, data = read_header(original, load_settings(NO_ROOT).max_source_bytes)
        except Problem as problem:
            raise click.ClickException(f"{file}: {problem.detail}") from None
    click.echo(json.dumps({"file": file, **facts(header, data, original.size, original.modified)}, indent=2))


@main.command("settings")
@click.option("--markdown", is_flag=True, help="print the table as docs/settings.md (defaults, not values in effect)")
@setting_flags
def show_settings(markdown: bool, **flags: Any) -> None:
    """List every setting with its current value (environment and flags applied), by group, marking those
    that `serve` would refuse. Exit status 1 when any is invalid."""
    from .settings import GROUPS, by_group
    from .settings import markdown as settings_page

    if markdown:
        click.echo(settings_page(), nl=False)
        return
    warn_unknown_variables()
    settings, invalid = Settings.read(**{name: value for name, value in flags.items() if value is not None})
    invalid.update({name: (getattr(settings, name), why) for name, why in deeper_problems(settings).items()
                    if name not in invalid})
    shown = {variable: value for variable, value, _ in settings.rows()}
    for group, rows in by_group().items():
        click.echo(f"# {GROUPS[group]}")
        for f in rows:
            variable = PREFIX + f.name.upper()
            if f.name in invalid:
                given, why = invalid[f.name]
                value = "(not shown)" if f.metadata["secret"] else given if isinstance(given, str) else shown[variable]
                click.echo(f"{variable}={value}  <- INVALID: {why}")
            else:
                click.echo(f"{variable}={shown[variable]}")
            click.echo(f"    {f.metadata['help']}")
    if invalid:
        names = ", ".join(PREFIX + name.upper() for name in invalid)
        click.echo(f"{len(invalid)} invalid (marked INVALID above): {names}; `imgserve serve` would not start",
                   err=True)
        sys.exit(1)


def deeper_problems(settings: Settings) -> dict[str, str]:
    """What the server checks when it starts, beyond each value's own form: the manifest's rows, presets."""
    from .options import preset_problem
    from .sources.folder import load_manifest

    problems = {}
    if settings.manifest is not None and settings.manifest.is_file():
        try:
            load_manifest(settings.manifest)
        except (OSError, ValueError) as error:
            problems["manifest"] = str(error)
    preset = preset_problem(settings)
    if preset:
        problems[preset[0]] = preset[1]
    return problems


@main.command("options")
@click.option("--markdown", is_flag=True, help="print the table of docs/url-api.md (default settings' bounds)")
@click.option("--update", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="rewrite the table between FILE's options markers (docs/url-api.md) in place")
def show_options(markdown: bool, update: Path | None) -> None:
    """List the URL options (?w=300&format=webp ...): values, default and meaning, from the option registry."""
    from . import options

    if update:
        try:
            update.write_text(options.with_table(update.read_text()))
        except ValueError as error:
            raise click.UsageError(f"{update}: {error}") from None
        return
    if markdown:
        click.echo(options.markdown(), nl=False)
        return
    settings = load_settings(NO_ROOT)  # the bounds in effect (IMGSERVE_MAX_DIMENSION, ...)
    for option in OPTIONS.values():
        values, default = (text.replace("`", "") for text in options.summary(option, settings))
        click.echo(f"{option.name}: {values} [default: {default}]\n    {option.help}")


OPTION_FLAGS = {"w": "width", "h": "height", "q": "quality"}  # every other URL option keeps its name
LIMITS = ("max_pixels", "max_dimension", "max_source_bytes", "max_animation_pixels")


def option_flags(command: Callable) -> Callable:
    """One flag per URL option (the option registry), so the CLI takes what URLs take."""
    settings = Settings()
    for option in reversed(OPTIONS.values()):
        schema = option.schema(settings)
        command = click.option(f"--{_flag(option.name)}", option.name,
                               metavar=_metavar(schema), required=option.name == "format",
                               help=f"as ?{option.name}= in URLs: {option.help}")(command)
    return command


def _flag(name: str) -> str:
    return OPTION_FLAGS.get(name, name).replace("_", "-")  # as the settings' flags are spelt


def _metavar(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(map(str, schema["enum"]))
    if schema["type"] == "integer":
        return "N" if schema["maximum"] > 100 else f"{schema['minimum']}-{schema['maximum']}"
    return "VALUE"


def parse_options(given: dict[str, str | None], settings: Settings) -> Options:
    """The flags through the URL parsers: the same limits and the same messages as a 400 would give.
    Presets-only mode restricts clients of the server, not its owner at the command line."""
    try:
        options = parse({name: text for name, text in given.items() if text is not None},
                        replace(settings, presets_only=False))
    except Problem as problem:
        name = problem.extra.get("option", "")
        raise click.BadParameter(problem.detail.removeprefix(f"{name}: "),
                                 param_hint=f"--{_flag(name)}") from None
    if options.negotiated:
        names = ", ".join(f.name for f in formats.outputs())
        raise click.BadParameter(f"auto follows a browser's Accept header; name one of {names}", param_hint="--format")
    return options


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(file_okay=False, path_type=Path))
@option_flags
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="files converted at once on this machine [default: the cores]")
@click.option("--scheduler", metavar="ADDRESS",
              help="run on the Dask cluster at ADDRESS (tcp://host:8786) instead; its workers must see SRC and DST "
                   f"at the same paths (pip install '{DISTRIBUTION}[dask]')")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="write every input's outcome to FILE (.csv, or .jsonl for JSON lines)")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar, no summary; failures are still printed")
@partial(setting_flags, names=LIMITS)
def convert(src: Path, dst: Path, workers: int | None, scheduler: str | None, report: Path | None, quiet: bool,
            **flags: Any) -> None:
    """Convert every image under SRC into the same tree under DST, as the server would render it.

    Outputs newer than their input are skipped, so an interrupted run can simply be started again.
    Exit status: 0 all converted or skipped, 1 some failed, 130 interrupted.
    """
    from .batch import convert as batch
    from .batch.report import Progress, ReportFile

    settings = load_settings({"root": str(src), **{name: flags.pop(name) for name in LIMITS}})
    options = parse_options(flags, settings)
    if options.overlay is not None:
        from .sources.folder import Folder

        try:
            Folder(src).locate(options.overlay)
        except Problem as problem:
            raise click.BadParameter(f"{problem.detail} (an overlay is an original under SRC)",
                                     param_hint="--overlay") from None
    src, dst = src.resolve(), dst.resolve()
    if src.is_relative_to(dst) or dst.is_relative_to(src):
        raise click.UsageError("SRC and DST must not overlap: outputs would become inputs of the next run")
    if workers and scheduler:
        raise click.UsageError("--workers is for this machine; with --scheduler the cluster's workers run")
    try:
        sink = ReportFile(report) if report else None
    except (ValueError, OSError) as error:
        raise click.BadParameter(str(error), param_hint="--report") from None
    job = batch.Conversion(src, dst, options, batch.Limits.of(settings))
    progress = Progress(enabled=not quiet and sys.stderr.isatty())

    def on_outcome(outcome: batch.Outcome) -> None:
        progress.update(outcome)
        if sink:
            sink.write(outcome)

    try:
        summary = batch.convert(job, workers=workers or CORES, scheduler=scheduler, on_plan=progress.start,
                                on_outcome=on_outcome)
    except Problem as problem:  # the cluster cannot be used: nothing was done
        error = click.ClickException(problem.detail)
        error.exit_code = 2
        raise error from None
    finally:
        progress.close()
        if sink:
            sink.close()
    if not quiet or summary.interrupted:
        click.echo(summary.line())
    sys.exit(130 if summary.interrupted else 1 if summary.failed else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
