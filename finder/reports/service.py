"""Problem reports: filing one (and telling the owner and the moderators), resolving one.

Three open "didn't meet" reports mark the listing "may be out of date" until they are
resolved (`groups.reported_stale`, read by search with the freshness rules).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.accounts.models import User
from finder.freshness.rules import NO_MEETING_REPORTS_STALE, PAUSED_BY_MODERATOR
from finder.freshness.run import owner_addresses
from finder.listings import store
from finder.models import Group
from finder.reports.models import REPORT_KINDS, RESOLUTIONS, ListingReport

KIND_LABELS = {
    "didnt_meet": "it didn't meet",
    "wrong_time_place": "wrong time or place",
    "link_phone": "the link or phone doesn't work",
    "other": "something else",
}
RESOLUTION_LABELS = {
    "fixed": "fixed",
    "not_a_problem": "not a problem",
    "paused": "listing paused",
}
MAX_DETAILS = 2000


class ReportError(ValueError):
    """Bad input, naming the field and the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Notice:
    """A mail to send once the report is stored."""

    to: str
    group_id: int
    group_name: str
    kind: str
    details: str | None
    moderator: bool


def check(kind: str | None, details: str | None) -> tuple[str, str | None]:
    """The kind and the cleaned text, or ReportError naming the field."""
    if kind not in REPORT_KINDS:
        raise ReportError("kind", f"choose what is wrong (got {kind!r}); one of "
                                  f"{', '.join(REPORT_KINDS)}")
    text = (details or "").replace("\x00", "").strip() or None
    if text is not None and len(text) > MAX_DETAILS:
        raise ReportError("details", f"please keep it under {MAX_DETAILS} characters "
                                     f"(this is {len(text)})")
    if kind == "other" and text is None:
        raise ReportError("details", "say what is wrong with the listing")
    return kind, text


def file_report(session: Session, group_id: int, kind: str | None, details: str | None
                ) -> tuple[ListingReport, list[Notice]]:
    """Store a report on a public (not withdrawn) group; the mails to send after commit."""
    kind, text = check(kind, details)
    group = session.get(Group, group_id)
    if group is None or group.status == "withdrawn":
        raise LookupError(f"no listed group {group_id}")
    report = ListingReport(group_id=group_id, kind=kind, details=text, state="open")
    session.add(report)
    session.flush()
    _recount(session, group_id)
    to = [(a, False) for a in (owner_addresses(session, group.owner_organisation_id)
                               if group.owner_organisation_id else [])]
    to += [(a, True) for a in moderator_addresses(session)]
    return report, [Notice(a, group_id, group.name, kind, text, moderator=m) for a, m in to]


def moderator_addresses(session: Session) -> list[str]:
    return list(session.scalars(select(User.email).where(
        User.is_moderator.is_(True), User.disabled.is_(False), User.verified_at.is_not(None))
        .order_by(User.id)))


def resolve(session: Session, report_id: int, resolution: str | None, *, actor: Actor,
            now: dt.datetime | None = None) -> ListingReport:
    """Close an open report: "fixed", "not_a_problem", or "paused" (the listing is paused
    through the listing store)."""
    if resolution not in RESOLUTIONS:
        raise ReportError("resolution", f"unknown resolution {resolution!r}; one of "
                                        f"{', '.join(RESOLUTIONS)}")
    report = session.get(ListingReport, report_id)
    if report is None:
        raise LookupError(f"no report {report_id}")
    if report.state != "open":
        raise ReportError("report", f"report {report_id} is already resolved")
    report.state, report.resolution = "resolved", resolution
    report.resolved_at = now or dt.datetime.now(dt.UTC)
    report.resolved_by = actor.as_record()
    session.flush()
    if resolution == "paused":
        store.pause_group(session, report.group_id, actor=actor, reason=PAUSED_BY_MODERATOR,
                          note=f"problem report {report_id}: {KIND_LABELS[report.kind]}")
    _recount(session, report.group_id)
    return report


def _recount(session: Session, group_id: int) -> None:
    open_no_meeting = session.scalar(select(func.count()).select_from(ListingReport).where(
        ListingReport.group_id == group_id, ListingReport.state == "open",
        ListingReport.kind == "didnt_meet"))
    store.set_reported_stale(session, group_id,
                             (open_no_meeting or 0) >= NO_MEETING_REPORTS_STALE)


def open_reports(session: Session) -> list[tuple[Group, list[ListingReport]]]:
    """Open reports per listing, the listing with the oldest open report first."""
    reports = session.scalars(select(ListingReport).where(ListingReport.state == "open")
                              .order_by(ListingReport.created_at, ListingReport.id)).all()
    by_group: dict[int, list[ListingReport]] = {}
    for r in reports:
        by_group.setdefault(r.group_id, []).append(r)
    groups = {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(by_group)))}
    return [(groups[gid], rs) for gid, rs in by_group.items()]
