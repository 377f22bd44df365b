"""The `imgserve` command. Every setting is also a flag of `serve`, generated from the settings table."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import click

from .settings import PREFIX, Settings, SettingsError

BODY_SLACK = 2  # waitress reads bodies up to this many times MAX_BODY_BYTES, so the app can answer 413 itself


def setting_flags(command: Callable) -> Callable:
    """One `--name` flag per row of the settings table; unset flags leave the environment's value."""
    for f in reversed(fields(Settings)):
        command = click.option(f"--{f.name.replace('_', '-')}", f.name, default=None, metavar="VALUE",
                               help=f"{f.metadata['help']} [{PREFIX}{f.name.upper()}]")(command)
    return command


def load_settings(flags: dict[str, Any]) -> Settings:
    try:
        return Settings.load(**{name: value for name, value in flags.items() if value is not None})
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


@click.group()
@click.version_option(package_name="imgserve")
def main() -> None:
    """On-the-fly image service: originals in a folder, thumbnails and web formats over HTTP."""


@main.command()
@setting_flags
def serve(**flags: Any) -> None:
    """Serve the originals under the root with waitress."""
    import waitress

    from .web import create_app

    settings = load_settings(flags)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a "queue depth" line per busy request
    app = create_app({f.name: getattr(settings, f.name) for f in fields(Settings)})
    # waitress reads a whole request before the app sees it, and spills bodies over 512 KB to a temporary
    # file. Keep them in memory, and let waitress itself refuse (from the header, with a plain-text 413)
    # only bodies so large that reading them to answer with problem+json would be a waste. It also
    # spills responses over 1 MB not yet sent to a temporary file: they are in memory already, keep them.
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads, ident="imgserve",
                   max_request_body_size=BODY_SLACK * settings.max_body_bytes,
                   inbuf_overflow=BODY_SLACK * settings.max_body_bytes + 1, outbuf_overflow=sys.maxsize)


@main.command()
@click.argument("url")
@click.option("--key", default=None, help="key to sign with [default: the first of IMGSERVE_SIGNING_KEYS]")
def sign(url: str, key: str | None) -> None:
    """Print URL (a path and query, e.g. '/image/x.jpg?w=300') with its signature `s` added."""
    from .signing import sign_url

    if key is None:
        keys = [k.strip() for k in os.environ.get(PREFIX + "SIGNING_KEYS", "").split(",") if k.strip()]
        if not keys:
            raise click.UsageError("no key: pass --key or set IMGSERVE_SIGNING_KEYS")
        key = keys[0]
    click.echo(sign_url(url, key))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def info(file: str) -> None:
    """Print JSON facts about an image FILE, read from its header: sizes, channels, depth, format."""
    import json

    from .errors import Problem
    from .info import facts, read_header

    with open(file, "rb") as opened:
        try:
            header = read_header(opened, Settings().max_source_bytes)
        except Problem as problem:
            raise click.ClickException(f"{file}: {problem.detail}") from None
        stat = os.fstat(opened.fileno())
    click.echo(json.dumps({"file": file, **facts(header, stat.st_size, stat.st_mtime)}, indent=2))


@main.command("settings")
@setting_flags
def show_settings(**flags: Any) -> None:
    """List every setting with its current value (environment and flags applied)."""
    for name, value, help in load_settings(flags).rows():
        click.echo(f"{name}={value}\n    {help}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
