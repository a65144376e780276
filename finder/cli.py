"""The `groupfinder` command: Flask's CLI on the app factory, plus the project's commands.

    groupfinder db upgrade            apply migrations
    groupfinder postcodes load FILE   load a postcode file (GeoNames, ONSPD, ZCTA)
    groupfinder places load-bundled   load the bundled gazetteer (postcodes and places)
    groupfinder demo load             load the demo listings
    groupfinder demo accounts         demo organisation member and moderator (new passwords)
    groupfinder users create-moderator EMAIL   make a site moderator
    groupfinder schedules refresh     recompute cached upcoming meetings
    groupfinder index rebuild|sync|check   the keyword index (finder.keywords)
    groupfinder serve                 run the production server (gunicorn)
    groupfinder sources list          the declared ingestion sources
    groupfinder ingest run|status     pull listings from the sources

`sources` and `ingest` belong to the `ingest` package, which registers them as Flask CLI
plugins (the `flask.commands` entry points in pyproject.toml): `FlaskGroup` loads them, and
finder never depends on the ingest package.
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from finder import create_app, migrate


def register_commands(app: Flask) -> None:
    from finder.accounts.cli import demo_accounts, users_cli
    from finder.demo import demo_cli
    from finder.geocode.cli import places_cli, postcodes_cli
    from finder.keywords.cli import index_cli
    from finder.schedule_cache import schedules_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(postcodes_cli)
    app.cli.add_command(places_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(schedules_cli)
    app.cli.add_command(serve)
    app.cli.add_command(users_cli)
    app.cli.add_command(index_cli)
    demo_cli.add_command(demo_accounts)


@click.group("db", help="Database schema.")
def db_cli() -> None:
    pass


@db_cli.command("upgrade", help="Apply all migrations (safe to run again).")
@with_appcontext
def db_upgrade() -> None:
    migrate.upgrade(current_app.config["DATABASE_URL"])
    click.echo("Database schema is up to date.")


@click.command("serve", help="Serve the finder with gunicorn (production server).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")))
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--threads", type=int, default=4, show_default=True,
              help="Threads per worker (keep-alive connections, slow clients).")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    click.echo(f"Serving the group finder on http://{host}:{port}/ (Ctrl+C to stop)")
    sys.stdout.flush()
    os.execvp(
        sys.executable,
        [
            sys.executable, "-m", "gunicorn", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads),
            "--bind", f"{host}:{port}", "--access-logfile", "-",
            "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "finder.wsgi:app",
        ],
    )


def command_group() -> FlaskGroup:
    """The `groupfinder` command: the app's own commands and the installed plugins'."""
    return FlaskGroup(create_app=create_app, help="The pregnancy loss group finder.")


def main() -> None:
    command_group()(prog_name="groupfinder")
