"""`groupfinder index rebuild|sync|check`: the keyword index's only writer.

Run `sync` after every ingest (the ingest CLI and `make run` do) and on a timer (README);
`rebuild` when the schema or analyzer changed, or to start again; `check` exits 1 when the
index and the database differ.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from finder.keywords import index_dir, store, sync


@click.group("index", help="The keyword search index (Whoosh), derived from the database.")
def index_cli() -> None:
    pass


def _engine():
    return current_app.extensions["db"].engine


@index_cli.command("rebuild", help="Build a new index from the database and switch to it.")
@with_appcontext
def rebuild_cmd() -> None:
    root = index_dir(current_app)
    try:
        report = sync.rebuild(_engine(), root, progress=lambda n: click.echo(f"  {n:,} ..."))
    except store.WriterBusy as exc:
        click.echo(f"index rebuild: {exc}", err=True)
        sys.exit(1)
    rate = report.indexed / report.seconds if report.seconds else 0
    click.echo(f"Indexed {report.indexed:,} active groups in {report.seconds:.1f} s "
               f"({rate:,.0f}/s) into {root}.")


@index_cli.command("sync", help="Apply the groups changed since the last sync.")
@with_appcontext
def sync_cmd() -> None:
    root = index_dir(current_app)
    try:
        report = sync.sync(_engine(), root)
    except store.WriterBusy as exc:
        click.echo(f"index sync: {exc}", err=True)
        sys.exit(1)
    if report.full:
        click.echo(f"No index yet: built one with {report.indexed:,} groups "
                   f"in {report.seconds:.1f} s.")
    else:
        click.echo(f"Index synced: {report.indexed:,} indexed, {report.removed:,} removed "
                   f"in {report.seconds:.2f} s.")


@index_cli.command("check", help="Report differences between the database and the index.")
@with_appcontext
def check_cmd() -> None:
    try:
        report = sync.check(_engine(), index_dir(current_app))
    except FileNotFoundError as exc:
        click.echo(f"index check: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{report.active:,} active groups in the database, {report.indexed:,} indexed.")
    for label, ids in (("missing from the index", report.missing),
                       ("in the index but not active", report.extra),
                       ("indexed text out of date", report.outdated)):
        if ids:
            shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
            click.echo(f"{len(ids):,} {label}: {shown}")
    if not report.ok:
        sys.exit(1)
    click.echo("The index matches the database.")
