"""The one small interface every publisher format implements.

An adapter turns one fetched document into publisher-neutral `ListingRecord`s (or
`RowProblem`s for rows it cannot read). Everything after that — normalising, geocoding,
validating, matching, writing — is shared, so a new format is one small module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from finder.listings.records import ListingRecord
from ingest.fetch import Document, DocumentError

if TYPE_CHECKING:
    from ingest.sources import Source

__all__ = ["Adapter", "Document", "DocumentError", "FetchMore", "NotAGroup", "RowProblem",
           "SkipRow", "guarded_event"]


@dataclass
class RowProblem:
    """One row that cannot be used, and why; counted, never silently dropped.

    `skipped` marks rows that are not a listing at all (a one-off event on a hospital
    calendar, a service the publisher marks inactive): they are reported apart and do not
    count towards the share of rejected rows that fails a run.
    """

    ref: str  # the publisher's id, or "row 12"
    reason: str
    skipped: bool = False


class SkipRow(Exception):
    """One event or row cannot be listed; the message is the RowProblem's reason."""


class NotAGroup(SkipRow):
    """A one-off or cancelled event: not a group at all, so not a rejection either."""


def guarded_event(ref: str, n: int, build: Callable[[], ListingRecord],
                  seen: dict[str, int]) -> ListingRecord | RowProblem:
    """Build the n-th event's record, turning what cannot be listed into a RowProblem.

    An odd value deep in one event (a year-9999 UNTIL, a GEO out of range...) costs that
    event, not the document; two events under one id are both unknowable, so the second is
    refused.
    """
    try:
        record = build()
        first = seen.setdefault(record.external_id, n)
        if first != n:
            raise SkipRow(f"duplicate id {record.external_id!r} (first used by event {first})")
        return record
    except SkipRow as exc:
        return RowProblem(ref, str(exc), skipped=isinstance(exc, NotAGroup))
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        return RowProblem(ref, f"cannot read this event ({type(exc).__name__}: {exc})")


# Fetch another URL of the same source (HSDS paging, linked pages); same rules as the first.
FetchMore = Callable[[str], Document]


class Adapter:
    name: ClassVar[str]
    # media types this adapter reads; anything else is a DocumentError ("wrong content type")
    content_types: ClassVar[tuple[str, ...]]

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        raise NotImplementedError
