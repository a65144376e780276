"""Gazetteer commands: `groupfinder postcodes load FILE --format ...` and
`groupfinder places load-bundled`.

Input problems end with exit code 2 and one line saying what is wrong, and nothing is
written: each command runs in one transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import with_appcontext

from finder.geocode import bundled, loaders

postcodes_cli = click.Group("postcodes", help="The postcode gazetteer.")
places_cli = click.Group("places", help="Towns and cities (and the bundled gazetteer).")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    click.get_current_context().exit(2)


@postcodes_cli.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", required=True, metavar="geonames|onspd|zcta",
    help="geonames: a GeoNames postal dump; onspd: the ONS Postcode Directory CSV; "
         "zcta: the US Census ZCTA gazetteer.",
)
@click.option("--force", is_flag=True, help="Load the file even if it was loaded before.")
@with_appcontext
def load_postcodes(file: Path, fmt: str, force: bool) -> None:
    """Load a postcode file (plain, .gz or .zip) into the gazetteer."""
    fmt = fmt.strip().lower()
    try:
        loaders.check_input(file, fmt)
        with current_app.extensions["db"].transaction() as session:
            result = loaders.load_file(
                session, file, fmt, force=force, progress=sys.stderr.isatty()
            )
    except loaders.LoaderError as exc:
        _fail(str(exc))
    click.echo(result.summary())


@places_cli.command("load-bundled")
@click.option("--force", is_flag=True, help="Reload even if the package versions are unchanged.")
@with_appcontext
def load_bundled(force: bool) -> None:
    """Load the postcodes and places that ship with installed packages (no download)."""
    with current_app.extensions["db"].transaction() as session:
        summary = bundled.load_bundled(session, progress=sys.stderr.isatty(), force=force)
    for name, info in summary.items():
        if name == "seconds":
            continue
        counts = ", ".join(f"{v} {k}s" for k, v in info.items()
                           if k not in ("status", "rows", "seconds"))
        detail = f" ({counts})" if counts else ""
        took = f" in {info['seconds']}s" if "seconds" in info else ""
        click.echo(f"{name}: {info['status']}, {info['rows']} rows{detail}{took}")
    click.echo(f"Done in {summary['seconds']}s.")
    click.echo("Attribution: " + " ".join(bundled.ATTRIBUTION.values()))
