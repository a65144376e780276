"""Demo listings: `demo/*.json` loaded through the same path as every real source.

The demo is not special-cased anywhere: each file is a list of `ListingRecord`-shaped objects
that goes through `finder.listings` (normalise, geocode, write, withdraw), so the demo
exercises, and is checked by, the code that real feeds and organiser submissions use. Like a
source's successful run, a load confirms the listings it still lists.

`load_examples` adds what keeping listings true (issue 7) looks like, the same way: a second
demo source (`demo/charity-feed/*.json`) that lists one demo group with another start time
(a disagreement for moderators) and one that may or may not be a demo group (a possible
match to review); and a problem report from the public. Among the demo listings, one is
never confirmed (`STALE_EXAMPLE`: "may be out of date") and one series has ended
(`ENDED_EXAMPLE`: only its page shows it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finder import ROOT
from finder.accounts.actor import Actor
from finder.db import get_session
from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.listings.store import confirm_listed, geocode, withdraw, write_listings
from finder.models import ListingSource
from finder.reports.models import ListingReport
from finder.reports.service import file_report
from finder.review.service import open_conflicts, open_matches

DEMO_DIR = ROOT / "demo"
SOURCE = "demo"
SECOND_SOURCE = "demo-charity-feed"
SECOND_SOURCE_DIR = "charity-feed"  # its files: DEMO_DIR / SECOND_SOURCE_DIR / *.json

# issue 7's examples among the demo listings: one last confirmed STALE_AGE_DAYS before each
# load (never by the load itself), so it "may be out of date" whatever the date; one series
# that ended (its schedule's end date has passed)
STALE_EXAMPLE = "leeds-armley-miscarriage-cafe"
STALE_AGE_DAYS = 200
ENDED_EXAMPLE = "leeds-kirkstall-spring-series"
# a demo group the public reported a problem with, and what they said
REPORTED_EXAMPLE = "leeds-headingley-baby-loss"
REPORT_TEXT = ("We went on Monday evening and the room was locked. Is the group still "
               "meeting at the Community Rooms? (A demo report.)")

_LISTING_FIELDS = {f.name for f in dataclasses.fields(ListingRecord)} - {"source"}
_SCHEDULE_FIELDS = {f.name for f in dataclasses.fields(ScheduleRecord)}
_ORG_FIELDS = {f.name for f in dataclasses.fields(OrganisationRecord)}


class DemoFileError(ValueError):
    """A demo object that is not shaped like a ListingRecord (a typo, not a bad value)."""


def _check_keys(obj: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DemoFileError(f"{where}: expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise DemoFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return obj


def record_from_json(obj: Any, where: str = "demo") -> ListingRecord:
    """A ListingRecord from one JSON object; values stay as written, for normalise to judge.

    Unknown keys are an error here because a misspelt field ("postocde") would otherwise be
    dropped silently and the listing would load with less than the file says.
    """
    data = dict(_check_keys(obj, _LISTING_FIELDS, where))
    if "external_id" not in data:
        raise DemoFileError(f"{where}: external_id is missing")
    where = f"{where} {data['external_id']}"
    org = data.pop("organisation", None)
    if org is not None:
        data["organisation"] = OrganisationRecord(**_check_keys(org, _ORG_FIELDS,
                                                                 f"{where} organisation"))
    schedules = data.pop("schedules", None) or []
    if not isinstance(schedules, list):
        raise DemoFileError(f"{where}: schedules must be a list")
    data["schedules"] = [
        ScheduleRecord(**_check_keys(s, _SCHEDULE_FIELDS, f"{where} schedules[{i}]"))
        for i, s in enumerate(schedules)
    ]
    try:
        return ListingRecord(source=SOURCE, **data)
    except TypeError as exc:  # a required field (name, format, join_mode) is missing
        raise DemoFileError(f"{where}: {exc}") from exc


def read_demo(directory: Path | None = None) -> Iterator[ListingRecord]:
    """Every record in `directory/*.json` (default `demo/`), in file then list order."""
    directory = directory or DEMO_DIR
    files = sorted(directory.glob("*.json"))
    if not files:
        raise DemoFileError(f"no demo files in {directory}")
    for path in files:
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise DemoFileError(f"{path.name}: expected a list of listings")
        for i, obj in enumerate(rows):
            yield record_from_json(obj, f"{path.name}[{i}]")


def load_demo(session: Session, directory: Path | None = None, *,
              today: dt.date | None = None) -> dict[str, Any]:
    """Load the demo listings; safe to run again (unchanged rows are only marked as seen).

    Returns counts of created/updated/unchanged/rejected/withdrawn listings, and
    `rejections`: "external_id: field: reason" for every row that could not be loaded. The
    listings loaded are confirmed `today`, as a source's run confirms what it lists, but
    for `STALE_EXAMPLE`, which says it was last confirmed `STALE_AGE_DAYS` earlier.
    """
    today = today or dt.date.today()
    return _load(session, read_demo(directory), SOURCE, today=today, unconfirmed={
        STALE_EXAMPLE: today - dt.timedelta(days=STALE_AGE_DAYS)})


def _load(session: Session, records: Iterable[ListingRecord], source: str, *,
          today: dt.date, unconfirmed: Mapping[str, dt.date] | None = None
          ) -> dict[str, Any]:
    """`records` written as `source`'s listings, as a run of it would (see `load_demo`)."""
    unconfirmed = unconfirmed or {}
    counts: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "merged": 0,
                              "rejected": 0, "withdrawn": 0, "rejections": []}
    seen: set[str] = set()
    listings = []
    for record in records:
        if record.external_id in seen:
            raise DemoFileError(f"external_id {record.external_id!r} is used twice")
        seen.add(record.external_id)
        if source != record.source:
            record = dataclasses.replace(record, source=source)
        if record.external_id in unconfirmed:
            record = dataclasses.replace(record, last_confirmed=unconfirmed[record.external_id])
        result = normalise(record, today=today)
        if not isinstance(result, Rejection):
            result = geocode(session, result)
        if isinstance(result, Rejection):
            counts["rejected"] += 1
            counts["rejections"].append(f"{record.external_id}: {result}")
            continue
        listings.append(result)
    actor = Actor.system("demo")
    for outcome in write_listings(session, listings, actor=actor):
        counts[outcome] += 1
    # rejected rows stay in `seen`: a bad edit must not take a listing down
    counts["withdrawn"] = withdraw(session, source, seen, actor=actor)
    confirm_listed(session, source, actor=actor, today=today, leave=unconfirmed.keys())
    return counts


def load_examples(session: Session, directory: Path | None = None, *,
                  today: dt.date | None = None) -> dict[str, Any]:
    """Issue 7's examples (see the module's note), after `load_demo`: the second demo
    source's listings (the first run records a disagreement and a possible match for
    moderators; later runs find them unchanged, and a moderator's decision is kept) and
    one open problem report (filed once: a resolved one is not filed again). Returns the
    second source's counts, and `reported` (1 when the report was filed now)."""
    directory = directory or DEMO_DIR
    today = today or dt.date.today()
    second = directory / SECOND_SOURCE_DIR
    if second.is_dir():
        counts = _load(session, read_demo(second), SECOND_SOURCE, today=today)
    else:  # a demo directory of listings only (tests)
        counts = {key: 0 for key in ("created", "updated", "unchanged", "merged", "rejected",
                                     "withdrawn")} | {"rejections": []}
    counts["reported"] = 0
    group_id = example_ids(session).get("reported")
    already = session.scalar(select(func.count()).select_from(ListingReport).where(
        ListingReport.group_id == group_id, ListingReport.details == REPORT_TEXT))
    if group_id is not None and not already:
        file_report(session, group_id, "didnt_meet", REPORT_TEXT)  # no mail: demo data
        counts["reported"] = 1
    return counts


def example_ids(session: Session) -> dict[str, int]:
    """"stale", "ended", "reported" -> the demo group that shows it (when loaded)."""
    wanted = {"stale": STALE_EXAMPLE, "ended": ENDED_EXAMPLE, "reported": REPORTED_EXAMPLE}
    found = dict(session.execute(
        select(ListingSource.external_id, ListingSource.group_id).where(
            ListingSource.source == SOURCE, ListingSource.external_id.in_(wanted.values()))
    ).all())
    return {key: found[ext] for key, ext in wanted.items() if ext in found}


def examples_text(session: Session, base: str) -> list[str]:
    """Where to see issue 7 in the demo: lines for the terminal."""
    ids = example_ids(session)
    waiting_reviews = len(open_matches(session))
    waiting_conflicts = len(open_conflicts(session))
    open_reports = session.scalar(select(func.count()).select_from(ListingReport).where(
        ListingReport.state == "open"))
    lines = []
    if "stale" in ids:
        lines.append(f"  a listing that may be out of date: {base}/groups/{ids['stale']}")
    if "ended" in ids:
        lines.append(f"  a group that has ended (its page only): {base}/groups/{ids['ended']}")
    lines += [
        f"  moderators: what ingestion could not decide ({waiting_reviews} possible matches, "
        f"{waiting_conflicts} disagreements): {base}/moderation/review",
        f"  moderators: problem reports ({open_reports} open): {base}/moderation/reports",
        f"  moderators: listings that may be out of date: {base}/moderation/stale"]
    return lines


demo_cli = click.Group("demo", help="Demo listings.")


@demo_cli.command("load", help="Load (or refresh) the demo listings from demo/*.json.")
@with_appcontext
def load_command() -> None:
    started = time.perf_counter()
    try:
        with current_app.extensions["db"].transaction() as session:
            counts = load_demo(session)
            second = load_examples(session)
    except DemoFileError as exc:
        raise click.ClickException(f"demo data is malformed: {exc}") from exc
    elapsed = time.perf_counter() - started
    click.echo(
        f"Demo listings: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['withdrawn']} withdrawn, "
        f"{counts['rejected']} rejected ({elapsed:.1f}s)."
    )
    click.echo(
        f"Demo examples of keeping listings true: {SECOND_SOURCE}: {second['created']} "
        f"created, {second['merged']} merged, {second['updated']} updated, "
        f"{second['unchanged']} unchanged, {second['withdrawn']} withdrawn, "
        f"{second['rejected']} rejected; {second['reported']} problem report filed."
    )
    base = (current_app.config.get("PUBLIC_BASE_URL")
            or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
    for line in examples_text(get_session(), base):
        click.echo(line)
    rejections = counts["rejections"] + second["rejections"]
    if rejections:
        for line in rejections:
            click.echo(f"  rejected {line}", err=True)
        # the rest is committed, but a rejected demo row is a bug in the demo data
        sys.exit(1)
