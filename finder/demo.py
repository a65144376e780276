"""Demo listings: `demo/*.json` loaded through the same path as every real source.

The demo is not special-cased anywhere: each file is a list of `ListingRecord`-shaped objects
that goes through `finder.listings` (normalise, geocode, write, withdraw), so the demo
exercises, and is checked by, the code that real feeds and organiser submissions use.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from finder import ROOT
from finder.accounts.actor import Actor
from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.listings.store import geocode, withdraw, write_listings

DEMO_DIR = ROOT / "demo"
SOURCE = "demo"

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


def load_demo(session: Session, directory: Path | None = None) -> dict[str, Any]:
    """Load the demo listings; safe to run again (unchanged rows are only marked as seen).

    Returns counts of created/updated/unchanged/rejected/withdrawn listings, and
    `rejections`: "external_id: field: reason" for every row that could not be loaded.
    """
    counts: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0,
                              "withdrawn": 0, "rejections": []}
    seen: set[str] = set()
    listings = []
    for record in read_demo(directory):
        if record.external_id in seen:
            raise DemoFileError(f"external_id {record.external_id!r} is used twice")
        seen.add(record.external_id)
        result = normalise(record)
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
    counts["withdrawn"] = withdraw(session, SOURCE, seen, actor=actor)
    return counts


demo_cli = click.Group("demo", help="Demo listings.")


@demo_cli.command("load", help="Load (or refresh) the demo listings from demo/*.json.")
@with_appcontext
def load_command() -> None:
    started = time.perf_counter()
    try:
        with current_app.extensions["db"].transaction() as session:
            counts = load_demo(session)
    except DemoFileError as exc:
        raise click.ClickException(f"demo data is malformed: {exc}") from exc
    elapsed = time.perf_counter() - started
    click.echo(
        f"Demo listings: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['withdrawn']} withdrawn, "
        f"{counts['rejected']} rejected ({elapsed:.1f}s)."
    )
    if counts["rejections"]:
        for line in counts["rejections"]:
            click.echo(f"  rejected {line}", err=True)
        # the rest is committed, but a rejected demo row is a bug in the demo data
        sys.exit(1)
