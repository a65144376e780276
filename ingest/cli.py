"""`groupfinder sources ...` and `groupfinder ingest ...`: what operators (and timers) run.

Exit codes: 0 all runs succeeded (or were not modified / skipped), 1 a run failed, 2 a usage
error (unknown source, broken sources file, no sources chosen). Errors are one line.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingest.sources import Source, SourceConfigError, load_sources

CRON_LINE = "*/15 * * * * cd /srv/groupfinder && .venv/bin/groupfinder ingest run --due"
SHOWN_REJECTIONS = 5  # per source in `ingest run` output; the run record keeps 100

sources_option = click.option(
    "--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help="Sources file to use (default: $GROUPFINDER_SOURCES or "
                       "ingest/sources.toml).",
)


def _load(path: Path | None) -> dict[str, Source]:
    try:
        return load_sources(path)
    except SourceConfigError as exc:
        _usage_error(str(exc))


def _usage_error(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=200, soft_wrap=False)


def _age(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "never"
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


# ----------------------------------------------------------------------------- sources


sources_cli = click.Group("sources", help="The sources listings are ingested from.")


@sources_cli.command("list", help="Show the declared sources.")
@sources_option
def sources_list(sources_file: Path | None) -> None:
    sources = _load(sources_file)
    table = Table(title=f"{len(sources)} sources")
    for column in ("name", "kind", "adapter", "url / path", "refresh", "local"):
        table.add_column(column)
    for s in sources.values():
        table.add_row(*map(Text, (s.name, s.publisher_kind, s.adapter, s.url or s.path or "",
                                  f"every {s.refresh_hours:g}h", "yes" if s.local else "no")))
    _console().print(table)


# ----------------------------------------------------------------------------- ingest


ingest_cli = click.Group("ingest", help="Pull listings from the declared sources.")


@ingest_cli.command(
    "run",
    help="Ingest the named sources, --all of them, or those --due (interval passed).\n\n"
         "For a timer, run --due every 15 minutes; each source still runs only as often as "
         f"its refresh_hours says. Crontab line:\n\n\b\n    {CRON_LINE}\n\n"
         "(or a systemd timer with OnCalendar=*:0/15 running the same command).\n\n"
         "Exit status: 0 all runs succeeded, 1 a run failed, 2 a usage or sources-file error.",
)
@click.argument("names", nargs=-1, metavar="[SOURCE]...")
@click.option("--all", "run_all", is_flag=True, help="Run every declared source.")
@click.option("--due", is_flag=True, help="Run the sources whose refresh interval has passed.")
@click.option("--force", is_flag=True,
              help="Fetch in full even if the feed says it has not changed (after editing a "
                   "source's options).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on long runs (default: when stderr is a terminal).")
@click.option("--index/--no-index", "sync_index", default=True, show_default=True,
              help="Bring the keyword index up to date afterwards (`groupfinder index sync`).")
@sources_option
@with_appcontext
def ingest_run(names: tuple[str, ...], run_all: bool, due: bool, force: bool,
               progress: bool | None, sync_index: bool, sources_file: Path | None) -> None:
    from ingest.runner import due_sources, run_source

    if sum((bool(names), run_all, due)) != 1:
        _usage_error("name the sources to run, or give --all or --due (one of them)")
    sources = _load(sources_file)
    unknown = [n for n in names if n not in sources]
    if unknown:
        _usage_error(f"unknown source {unknown[0]!r} (see `groupfinder sources list`)")
    db = current_app.extensions["db"]
    if due:
        with db.transaction() as session:
            chosen = due_sources(session, sources.values(), dt.datetime.now(dt.UTC))
        if not chosen:
            click.echo("No sources are due.")
            return
    else:
        chosen = list(sources.values()) if run_all else [sources[n] for n in names]
    if progress is None:
        progress = sys.stderr.isatty()
    failed = 0
    for source in chosen:
        try:
            report = run_source(db, source, progress=progress, force=force)
        except Exception as exc:  # the run could not even be recorded (database down?)
            click.echo(f"{source.name}: FAILED: cannot record the run "
                       f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]})")
            failed += 1
            continue
        click.echo(report.summary())
        # skipped rows (one-off events...) are expected every run: counted, not listed here
        rejected = [r for r in report.rejections if not r.get("skipped")]
        for item in rejected[:SHOWN_REJECTIONS]:
            click.echo(f"  rejected {item['ref']}: {item['reason']}")
        if report.rejected > SHOWN_REJECTIONS:
            click.echo(f"  ... and {report.rejected - SHOWN_REJECTIONS} more (see the "
                       f"rejections of ingest run {report.run_id})")
        failed += report.failed
    if sync_index:
        _sync_keyword_index()
    if failed:
        sys.exit(1)


def _sync_keyword_index() -> None:
    """The keyword index's sync after the runs; its failure never fails the ingest (the
    timer's next `groupfinder index sync` applies the same changes)."""
    from finder.keywords import index_dir, store, sync

    try:
        report = sync.sync(current_app.extensions["db"].engine, index_dir(current_app))
    except store.WriterBusy:
        click.echo("Keyword index: another sync is running; it will apply these changes.")
        return
    except Exception as exc:  # noqa: BLE001 - reported, and the next sync catches up
        click.echo(f"Keyword index: sync failed ({type(exc).__name__}); run "
                   f"`groupfinder index sync`.")
        return
    click.echo(f"Keyword index: {report.indexed:,} indexed, {report.removed:,} removed.")


@ingest_cli.command("status", help="Last success, last error, consecutive failures, counts "
                                   "and age of each source; failing sources are flagged.")
@sources_option
@with_appcontext
def ingest_status(sources_file: Path | None) -> None:
    from finder.listings.sources_health import FAILING_AFTER
    from ingest.runner import status_rows

    sources = _load(sources_file)
    now = dt.datetime.now(dt.UTC)
    with current_app.extensions["db"].transaction() as session:
        rows = status_rows(session, sources.values(), now)
    table = Table(title="Ingestion status")
    for column in ("source", "state", "last success", "age", "failures", "last run counts",
                   "last error"):
        table.add_column(column)
    for row in rows:
        if row["failing"]:
            state = Text("FAILING", style="bold red")
        else:
            state = Text(row["last_outcome"] or "never run")
        counts = row["counts"]
        numbers = ("-" if counts is None else
                   " ".join(f"{k}={v}" for k, v in counts.items()))
        error = f"{_when(row['last_error_at'])}: {row['last_error']}" if row["last_error"] else "-"
        table.add_row(Text(row["source"]), state, _when(row["last_success_at"]),
                      _age(row["age"]), str(row["consecutive_failures"]), numbers, Text(error))
    console = _console()
    console.print(table)
    failing = [r["source"] for r in rows if r["failing"]]
    if failing:
        console.print(f"FAILING ({FAILING_AFTER}+ failed runs in a row): {', '.join(failing)}",
                      style="bold red", markup=False)
