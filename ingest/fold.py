"""Entries of one feed that are one group: the same name at the same place (or behind the
same join link), listed once per day or time, become one listing with several schedules.

Meeting lists often publish a group that meets every weekday as five or seven meetings
(Meeting Guide has one `day` per meeting, spreadsheets one row per session). Searchers
should see that group once, with all its times. Two entries are folded when, after folding
case, accents and punctuation:

* their names are the same, and
* they meet at the same place (venue, street, postcode, town and point, as far as given),
  or online behind the same join link, and
* they agree on format, loss types, audiences and languages (a "Women" Tuesday and a mixed
  Thursday under one name are two meetings for different people).

A shared Zoom room alone is not enough: meeting lists reuse one room for differently named
meetings ("Big Book Study", "AA Literature Study"), which are different groups.

The first entry is the listing (its id, description and details); the others add their
schedules and are reported as `Folded` so the run still counts every entry. Entries are
read in windows of `WINDOW` (bounded memory for very large feeds): entries of one group
more than `WINDOW` entries apart stay separate listings. Folding depends only on the
feed's content and order, so an unchanged feed folds the same way on every run.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from finder.listings.records import ListingRecord
from ingest.adapters.base import RowProblem

WINDOW = 20_000  # entries held at once (about 3 KB each)
MAX_SCHEDULES = 20  # as many as a listing may have (normalize.MAX_SCHEDULES)


@dataclass(frozen=True)
class Folded:
    """An entry folded into another entry's listing (`into` is that listing's id)."""

    ref: str
    into: str


_FOLDED: dict[str, str] = {}  # names, venues and towns repeat across a feed


def _fold_text(value: object) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    found = _FOLDED.get(text)
    if found is None:
        if len(_FOLDED) >= 65536:
            _FOLDED.clear()
        folded = unicodedata.normalize("NFKD", text.casefold())
        found = _FOLDED[text] = " ".join(re.sub(r"[^\w]+", " ", folded).split())
    return found


def _round(value: object) -> str:
    try:
        return f"{float(value):.3f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def _codes(values: list[str]) -> tuple:
    if not values:
        return ()
    if len(values) == 1:
        return (str(values[0]).lower(),)
    return tuple(sorted(str(v).lower() for v in values))


def group_keys(record: ListingRecord) -> list[tuple]:
    """The keys under which `record` may meet another entry of its group."""
    name = _fold_text(record.name)
    if not name:
        return []
    same = (name, record.format, _codes(record.loss_types), _codes(record.audiences),
            _codes(record.languages))
    keys = []
    street, postcode, town = record.address_line1, record.postcode, record.town
    if street or postcode or town:
        # the point too, when given (to about 100 m): two entries that disagree on where
        # the venue is are not yet known to be one group
        keys.append(("place", same, _fold_text(record.venue_name), _fold_text(street),
                     _fold_text(postcode), _fold_text(town), _round(record.latitude),
                     _round(record.longitude)))
    elif record.latitude not in (None, "") and record.longitude not in (None, ""):
        keys.append(("point", same, _fold_text(record.venue_name), _round(record.latitude),
                     _round(record.longitude)))
    if record.join_url:
        keys.append(("link", same, record.join_url.strip().rstrip("/").lower()))
    return keys


def fold_same_group(items: Iterable[ListingRecord | RowProblem],
                    window: int = WINDOW) -> Iterator[ListingRecord | RowProblem | Folded]:
    """`items` with the entries of one group folded into the first (see the module)."""
    held: list[ListingRecord | RowProblem | Folded] = []
    count = 0
    for item in items:
        held.append(item)
        count += 1
        if count >= window:
            yield from _fold(held)
            held, count = [], 0
    yield from _fold(held)


def _fold(items: list[ListingRecord | RowProblem | Folded]
          ) -> Iterator[ListingRecord | RowProblem | Folded]:
    leaders: dict[tuple, int] = {}  # key -> index of the leading record in `items`
    schedules: dict[int, list] = {}  # leader index -> its schedules so far
    followers: dict[int, list[Folded]] = {}
    ids: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, ListingRecord):
            continue
        if item.external_id in ids:
            continue  # an id used twice is left alone: the runner refuses the second
        ids.add(item.external_id)
        keys = group_keys(item)
        lead = next((leaders[k] for k in keys if k in leaders), None)
        if lead is not None:
            merged = schedules[lead]
            new = [s for s in item.schedules if s not in merged]
            if len(merged) + len(new) <= MAX_SCHEDULES:
                merged.extend(new)
                leader = items[lead]
                assert isinstance(leader, ListingRecord)
                followers.setdefault(lead, []).append(
                    Folded(str(item.external_id), str(leader.external_id)))
                items[i] = followers[lead][-1]
                continue
        for k in keys:
            leaders[k] = i  # a later entry of the group joins the newest listing of it
        schedules[i] = list(item.schedules)
    for i, item in enumerate(items):
        if i in followers:
            assert isinstance(item, ListingRecord)
            yield from followers[i]
            leader = copy.copy(item)  # the record as read, with the group's schedules
            leader.schedules = schedules[i]
            yield leader
        elif not isinstance(item, Folded):
            yield item
