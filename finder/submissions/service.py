"""Submissions' life: drafts, submitting, moderation, claims, trust, withdrawal.

The only module that moves a `Submission` between states. Each change is one transaction
(`db.transaction()`): it commits as a whole or leaves nothing written, and mail goes out only
after it has committed. Groups are written only through the listing store
(`finder.listings.store`), which audits every write with the `Actor` given here.

States: a draft (`save_draft`) waits for its author; `submit` makes it pending, or publishes
it at once for a trusted organisation (the submission is then recorded as approved, by the
submitter). A moderator approves (the store writes the group) or rejects with a reason
(mailed to the submitter); the organisation may cancel what is still a draft or pending. A
newer pending change of the same group supersedes the older one. Nothing that is not
approved is a group row, and search, the API and the group pages read only groups.

Withdrawing one's own published group (`withdraw`) takes effect at once, whoever the
organisation is: taking a listing down exposes nothing unreviewed, and a group that has
stopped meeting should not wait in a queue. It is audited, and recorded as an approved
"withdraw" submission so the organisation's list shows it.

A claim (`request_claim`) asks that an organisation manage a listing ingestion imported;
approving it makes the organisation the group's owner (`store.set_owner`). Claims always go
to a moderator, trusted or not: they are about who someone is, not about a listing's facts.

Payloads: a create or update holds the group JSON of `finder.submissions.payload` as the
organisation sent it (after merging a PATCH onto the group), so a draft can be incomplete and
a pending change is validated, normalised and geocoded again when it is approved. An import
(written by the store) holds `{"source", "external_id", "fields"}` in the field view of
`finder.listings.fields`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.accounts.models import User
from finder.listings import audit, fields, store
from finder.listings.normalise import NormalisedListing, Rejection
from finder.listings.records import OrganisationRecord
from finder.models import Group, ListingSource, Organisation, Submission
from finder.submissions import duplicates
from finder.submissions import payload as P

log = logging.getLogger(__name__)

OPEN_STATES = ("draft", "pending")
MAX_REASON = 2000


# ------------------------------------------------------------------------------ errors


class SubmissionError(Exception):
    """A request the submission rules refuse; `status` is the HTTP status that says so."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SubmissionError):
    status = 404


class NotAllowed(SubmissionError):
    """Another organisation's group (groups are public, so this is no secret)."""

    status = 403


class WrongState(SubmissionError):
    status = 409


class PossibleDuplicate(SubmissionError):
    """The new group looks like one already listed; `candidates` says which."""

    status = 409

    def __init__(self, candidates: list[duplicates.DuplicateCandidate]) -> None:
        super().__init__(
            "This looks like a group that is already listed. If it is the same group, ask to "
            "manage it (claim it) instead; if it is a different group, send the submission "
            "again with their ids in `not_duplicate_of`.")
        self.candidates = candidates


@dataclass(frozen=True)
class Outcome:
    """What a change led to: `state` is draft, pending, published, unchanged (a change that
    matches the published group: nothing to moderate), withdrawn, approved, rejected or
    cancelled."""

    state: str
    submission_id: int | None
    group_id: int | None = None
    changes: dict[str, list] = field(default_factory=dict)
    place: dict[str, Any] | None = None  # where the venue was placed (see `place_of`)


EXACT = ("given", "point", "postcode", "zip")


def place_of(listing: NormalisedListing) -> dict[str, Any] | None:
    """Where a geocoded listing's venue was placed, and whether that is approximate (a
    postcode district or a town centre rather than the postcode or the given point)."""
    if listing.format == "virtual" or listing.latitude is None:
        return None
    return {"latitude": listing.latitude, "longitude": listing.longitude,
            "geocode_precision": listing.geocode_precision, "postcode": listing.postcode,
            "timezone": listing.timezone,
            "approximate": listing.geocode_precision not in EXACT}


# ------------------------------------------------------------------------------ helpers


def _db():
    return current_app.extensions["db"]


def _read_session(session: Session | None) -> Session:
    if session is not None:
        return session
    from finder.db import get_session

    return get_session()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _organisation(session: Session, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation {organisation_id}")
    return org


def _publisher(org: Organisation | None) -> OrganisationRecord | None:
    if org is None:
        return None
    return OrganisationRecord(name=org.name, website=org.website, email=org.email,
                              phone=org.phone)


def _group(session: Session, group_id: int, *, lock: bool = False) -> Group:
    query = select(Group).where(Group.id == group_id)
    if lock:
        query = query.with_for_update(of=Group)
    group = session.scalars(query).first() if 0 < group_id < 2**31 else None
    if group is None or group.status == "withdrawn":
        raise NotFound(f"no group with id {group_id}")
    return group


def owned_group(session: Session, group_id: int, organisation_id: int, *,
                lock: bool = False) -> Group:
    """The group, when `organisation_id` manages it: NotFound (unknown or withdrawn) or
    NotAllowed (it is another organisation's, or nobody's yet: claim it first)."""
    group = _group(session, group_id, lock=lock)
    if group.owner_organisation_id != organisation_id:
        raise NotAllowed(f"group {group_id} is not managed by your organisation"
                         + ("" if group.owner_organisation_id else
                            "; ask to manage it (claim it) first"))
    return group


def _submission(session: Session, submission_id: int, *, lock: bool = False,
                organisation_id: int | None = None) -> Submission:
    """The submission; NotFound when unknown or (with `organisation_id`) another
    organisation's: drafts and pending changes are private, so their existence is too."""
    query = select(Submission).where(Submission.id == submission_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first() if 0 < submission_id < 2**31 else None
    if row is None or (organisation_id is not None and row.organisation_id != organisation_id):
        raise NotFound(f"no submission with id {submission_id}")
    return row


def prepare(session: Session, data: Any, *, organisation: OrganisationRecord | None,
            external_id: str = "new") -> NormalisedListing:
    """The group JSON validated, normalised and geocoded, ready for the store; Invalid
    (every field error, then normalisation's or geocoding's) otherwise."""
    listing = P.to_listing(data, organisation=organisation, external_id=external_id)
    located = store.geocode(session, listing)
    if isinstance(located, Rejection):
        raise P.Invalid([P.rejection_error(located)])
    return located


def _publisher_for(session: Session, kind: str, organisation_id: int,
                   group_id: int | None) -> OrganisationRecord | None:
    """Who the listing names as its publisher: the submitting organisation for a new group;
    for a change, whoever the group already names (a claimed hospital listing keeps
    naming the hospital)."""
    if kind == "update" and group_id is not None:
        group = session.get(Group, group_id)
        return _publisher(group.organisation) if group is not None else None
    return _publisher(session.get(Organisation, organisation_id))


def _supersede(session: Session, *, organisation_id: int, group_id: int, kinds: Iterable[str],
               keep: int | None = None) -> None:
    """Older pending changes of this group by this organisation give way to a newer one."""
    query = (update(Submission)
             .where(Submission.organisation_id == organisation_id,
                    Submission.group_id == group_id, Submission.state == "pending",
                    Submission.kind.in_(list(kinds)))
             .values(state="superseded", decided_at=_now()))
    if keep is not None:
        query = query.where(Submission.id != keep)
    session.execute(query)


def _decide(row: Submission, state: str, actor: Actor, reason: str | None = None) -> None:
    row.state = state
    row.decided_by = actor.as_record()
    row.decided_at = _now()
    row.decision_reason = reason


def _confirm(session: Session, group_id: int, actor: Actor) -> None:
    """A published edit (an organisation's change approved, or published at once when it
    is trusted; a moderator approving an import's change) confirms the listing there and
    then: "last confirmed" is today (`store.confirm_group`; issue 7)."""
    store.confirm_group(session, group_id, actor=actor, today=_now().date(), edit=True)


def _apply(session: Session, row: Submission, actor: Actor) -> Outcome:
    """Write an approved change through the store."""
    if row.kind in ("create", "update"):
        listing = prepare(session, row.payload,
                          organisation=_publisher_for(session, row.kind, row.organisation_id,
                                                      row.group_id),
                          external_id=f"submission-{row.id}")
        if row.kind == "create":
            row.group_id = store.create_group(session, listing, actor=actor,
                                              owner_organisation_id=row.organisation_id)
            _confirm(session, row.group_id, actor)
            return Outcome("published", row.id, row.group_id)
        _group(session, row.group_id, lock=True)
        changes = store.update_group(session, row.group_id, listing, actor=actor)
        _confirm(session, row.group_id, actor)
        return Outcome("published", row.id, row.group_id, changes)
    if row.kind == "import":
        _group(session, row.group_id, lock=True)
        listing = fields.listing_from_fields((row.payload or {}).get("fields") or {})
        changes = store.update_group(session, row.group_id, listing, actor=actor)
        _confirm(session, row.group_id, actor)
        return Outcome("published", row.id, row.group_id, changes)
    if row.kind == "claim":
        _group(session, row.group_id, lock=True)
        store.set_owner(session, row.group_id, row.organisation_id, actor=actor)
        return Outcome("published", row.id, row.group_id)
    if row.kind == "withdraw":
        store.withdraw_group(session, row.group_id, actor=actor, reason=row.note)
        return Outcome("withdrawn", row.id, row.group_id)
    raise WrongState(f"cannot apply a {row.kind!r} submission")


# ------------------------------------------------------------------------------ organisations


def save_draft(data: Any, *, actor: Actor, organisation_id: int,
               submission_id: int | None = None, group_id: int | None = None,
               note: str | None = None) -> Outcome:
    """Keep what was typed, valid or not, for its author to finish later. `submission_id`
    names an earlier draft to overwrite; `group_id` makes it a draft change of an owned
    group."""
    if not isinstance(data, Mapping):
        raise P.Invalid([P.FieldError("", "a draft is a JSON object (a group)")])
    data = P.storable(data)
    if len(orjson.dumps(data)) > P.MAX_STORED:
        raise P.Invalid([P.FieldError("", f"a draft has at most {P.MAX_STORED // 1024} kB")])
    note = _reason(note, required=False, field="note")
    with _db().transaction() as session:
        if submission_id is not None:
            row = _submission(session, submission_id, lock=True,
                              organisation_id=organisation_id)
            if row.state != "draft":
                raise WrongState(f"submission {submission_id} is {row.state}, not a draft")
            row.payload = data
            row.note = note if note is not None else row.note
        else:
            if group_id is not None:
                owned_group(session, group_id, organisation_id)
            row = Submission(kind="update" if group_id else "create", state="draft",
                             organisation_id=organisation_id, group_id=group_id,
                             payload=data, note=note, created_by=actor.as_record())
            session.add(row)
        session.flush()
        return Outcome("draft", row.id, row.group_id)


def submit(data: Any, *, actor: Actor, organisation_id: int, group_id: int | None = None,
           submission_id: int | None = None, note: str | None = None,
           not_duplicate_of: Iterable[int] = ()) -> Outcome:
    """Send a new group (or, with `group_id`, a change of an owned group; with
    `submission_id`, a draft or a pending submission replaced by `data`) to moderation, or
    publish it at once when the organisation is trusted.

    Raises payload.Invalid (field errors), PossibleDuplicate (a new group that looks
    listed already, unless every candidate is in `not_duplicate_of`), NotFound, NotAllowed
    or WrongState; nothing is written then.
    """
    note = _reason(note, required=False, field="note")
    with _db().transaction() as session:
        org = _organisation(session, organisation_id)
        row = None
        if submission_id is not None:
            row = _submission(session, submission_id, lock=True,
                              organisation_id=organisation_id)
            if row.state not in OPEN_STATES or row.kind not in ("create", "update"):
                raise WrongState(f"submission {submission_id} is {row.state}; it can no "
                                 "longer be changed")
            group_id = row.group_id
        kind = "update" if group_id is not None else "create"
        if group_id is not None:
            owned_group(session, group_id, organisation_id, lock=True)
        listing = prepare(session, data,
                          organisation=_publisher_for(session, kind, organisation_id, group_id))
        if kind == "create":
            found = [c for c in duplicates.find(session, listing)
                     if c.group_id not in set(not_duplicate_of)]
            if found:
                raise PossibleDuplicate(found)
        elif not _diff_with(fields.group_fields(session, group_id),
                            fields.listing_fields(listing)):
            # the same as what is published (a change taken back, or the organisation
            # saying it is still right): nothing to moderate, and the listing is confirmed
            _supersede(session, organisation_id=organisation_id, group_id=group_id,
                       kinds=("update",))
            _confirm(session, group_id, actor)
            if row is not None:
                _decide(row, "cancelled", actor, "the same as the published group")
            return Outcome("unchanged", row.id if row is not None else None, group_id)
        if row is None:
            row = Submission(kind=kind, organisation_id=organisation_id, group_id=group_id,
                             created_by=actor.as_record())
            session.add(row)
        row.payload = P.storable(data)
        row.note = note if note is not None else row.note
        row.state = "pending"
        session.flush()
        if group_id is not None:
            _supersede(session, organisation_id=organisation_id, group_id=group_id,
                       kinds=("update",), keep=row.id)
        if not org.trusted:
            return Outcome("pending", row.id, group_id, place=place_of(listing))
        outcome = _apply(session, row, actor)
        _decide(row, "approved", actor, "published at once: a trusted organisation")
        return dataclasses.replace(outcome, place=place_of(listing))


def preview(data: Any, *, organisation_id: int, group_id: int | None = None,
            session: Session | None = None) -> dict[str, Any]:
    """What `data` would be listed as, written nowhere: the field view of the validated,
    geocoded listing plus `place` (where the venue lands, and whether approximately), so a
    form can show the resolved place before saving. Raises payload.Invalid."""
    session = _read_session(session)
    kind = "update" if group_id is not None else "create"
    listing = prepare(session, data,
                      organisation=_publisher_for(session, kind, organisation_id, group_id))
    return {"fields": fields.listing_fields(listing), "place": place_of(listing)}


def cancel(submission_id: int, *, actor: Actor, organisation_id: int) -> Outcome:
    """The organisation takes back its own draft or pending change."""
    with _db().transaction() as session:
        row = _submission(session, submission_id, lock=True, organisation_id=organisation_id)
        if row.state not in OPEN_STATES:
            raise WrongState(f"submission {submission_id} is already {row.state}")
        _decide(row, "cancelled", actor)
        return Outcome("cancelled", row.id, row.group_id)


def withdraw(group_id: int, *, actor: Actor, organisation_id: int,
             reason: str | None = None) -> Outcome:
    """Take an owned group off the listings now (see the module's note), superseding the
    organisation's pending changes of it."""
    reason = _reason(reason, required=False)
    with _db().transaction() as session:
        owned_group(session, group_id, organisation_id, lock=True)
        row = Submission(kind="withdraw", organisation_id=organisation_id, group_id=group_id,
                         note=reason, created_by=actor.as_record(), state="pending")
        session.add(row)
        session.flush()
        _supersede(session, organisation_id=organisation_id, group_id=group_id,
                   kinds=("update", "withdraw"), keep=row.id)
        outcome = _apply(session, row, actor)
        _decide(row, "approved", actor, "withdrawn by the organisation")
        return outcome


def request_claim(group_id: int, *, actor: Actor, organisation_id: int,
                  note: str | None = None) -> Outcome:
    """Ask to manage a listing ingestion imported (or another organisation manages: the
    moderator decides). Asking twice gives the same pending claim."""
    note = _reason(note, required=False, field="note")
    with _db().transaction() as session:
        _organisation(session, organisation_id)
        group = _group(session, group_id)
        if group.owner_organisation_id == organisation_id:
            raise WrongState(f"your organisation already manages group {group_id}")
        existing = session.scalars(select(Submission).where(
            Submission.kind == "claim", Submission.group_id == group_id,
            Submission.organisation_id == organisation_id, Submission.state == "pending",
        )).first()
        if existing is not None:
            return Outcome("pending", existing.id, group_id)
        row = Submission(kind="claim", state="pending", organisation_id=organisation_id,
                         group_id=group_id, note=note, payload=None,
                         created_by=actor.as_record())
        session.add(row)
        session.flush()
        return Outcome("pending", row.id, group_id)


# ------------------------------------------------------------------------------ moderators


def _require_moderator(actor: Actor) -> None:
    if not actor.is_moderator and actor.kind != "system":
        raise NotAllowed("only moderators decide on submissions")


def _reason(reason: str | None, *, required: bool, field: str = "reason") -> str | None:
    check = P._Check()
    text = check.text(reason, field, multiline=True, limit=MAX_REASON)
    if check.errors:
        raise P.Invalid(check.errors)
    if required and not text:
        raise P.Invalid([P.FieldError(field, "say why, in words the organisation will "
                                                "read (it is mailed to them)")])
    return text


def approve(change_id: int, actor: Actor) -> Outcome:
    """Publish a pending change through the store, then mail the submitter. A change that
    no longer validates (say its postcode has gone from the gazetteer) raises Invalid and
    stays pending."""
    _require_moderator(actor)
    with _db().transaction() as session:
        row = _submission(session, change_id, lock=True)
        if row.state != "pending":
            raise WrongState(f"submission {change_id} is {row.state}, not pending")
        rivals = []
        if row.kind == "claim":  # other organisations' claims are answered by this one
            rivals = session.scalars(select(Submission).where(
                Submission.group_id == row.group_id, Submission.kind == "claim",
                Submission.state == "pending", Submission.id != row.id,
            ).with_for_update()).all()
        outcome = _apply(session, row, actor)
        _decide(row, "approved", actor)
        if row.group_id is not None:
            audit.record(session, actor=actor, action="approve", group_id=row.group_id,
                         note=f"submission {row.id} ({row.kind})")
        mail = _outcome_mail(session, row)
        for rival in rivals:
            _decide(rival, "rejected", actor,
                    "Another organisation's claim on this group was approved.")
            mail += _outcome_mail(session, rival)
    _send(mail)
    return Outcome("approved", outcome.submission_id, outcome.group_id, outcome.changes)


def reject(change_id: int, actor: Actor, reason: str) -> Outcome:
    """Refuse a pending change with a reason, mailed to the submitter; nothing is published."""
    _require_moderator(actor)
    reason = _reason(reason, required=True)
    with _db().transaction() as session:
        row = _submission(session, change_id, lock=True)
        if row.state != "pending":
            raise WrongState(f"submission {change_id} is {row.state}, not pending")
        _decide(row, "rejected", actor, reason)
        if row.group_id is not None:
            audit.record(session, actor=actor, action="reject", group_id=row.group_id,
                         note=f"submission {row.id} ({row.kind}): {reason}")
        mail = _outcome_mail(session, row)
    _send(mail)
    return Outcome("rejected", row.id, row.group_id)


def set_trusted(organisation_id: int, trusted: bool, *, actor: Actor) -> None:
    """A trusted organisation's changes publish at once (still audited)."""
    _require_moderator(actor)
    with _db().transaction() as session:
        org = _organisation(session, organisation_id)
        if org.trusted != bool(trusted):
            org.trusted = bool(trusted)
            audit.record(session, actor=actor, action="trust", group_id=None,
                         changes={"trusted": [not trusted, bool(trusted)]},
                         note=f"organisation {org.id} ({org.name})")


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class QueueItem:
    submission: Submission
    organisation_name: str | None
    group_name: str | None  # the published group's, or the proposed name of a new one
    trusted: bool


def queue(session: Session | None = None) -> list[QueueItem]:
    """Pending changes, oldest first, with who sent them and what they are about."""
    session = _read_session(session)
    rows = session.execute(
        select(Submission, Organisation.name, Organisation.trusted, Group.name)
        .outerjoin(Organisation, Organisation.id == Submission.organisation_id)
        .outerjoin(Group, Group.id == Submission.group_id)
        .where(Submission.state == "pending")
        .order_by(Submission.created_at, Submission.id)
    ).all()
    return [QueueItem(sub, org_name, group_name or _proposed_name(sub), bool(trusted))
            for sub, org_name, trusted, group_name in rows]


def _proposed_name(row: Submission) -> str | None:
    data = row.payload or {}
    name = data.get("name") if isinstance(data, Mapping) else None
    if name is None and isinstance(data.get("fields"), Mapping):
        name = data["fields"].get("name")
    return name if isinstance(name, str) else None


def proposed_fields(session: Session, row: Submission) -> dict[str, Any]:
    """What the change would make the group, in the field view; Invalid when a create or
    update no longer validates."""
    if row.kind in ("create", "update"):
        listing = prepare(session, row.payload,
                          organisation=_publisher_for(session, row.kind, row.organisation_id,
                                                      row.group_id))
        return fields.listing_fields(listing)
    if row.kind == "import":
        return dict((row.payload or {}).get("fields") or {})
    return {}


def change_diff(submission: Submission, session: Session | None = None) -> dict[str, list]:
    """Before/after of each field the change alters (`fields.diff`). A new group's
    "before" is empty; a claim changes who manages the group; a withdrawal its status.
    Raises payload.Invalid when a create or update no longer validates."""
    session = _read_session(session)
    row = submission
    before: dict[str, Any] = {}
    if row.group_id is not None and row.kind in ("update", "import"):
        before = fields.group_fields(session, row.group_id)
    if row.kind == "claim":
        group = session.get(Group, row.group_id)
        old = group.owner_organisation.name if group and group.owner_organisation else None
        new = session.get(Organisation, row.organisation_id)
        return {"managed_by": [old, new.name if new else None]}
    if row.kind == "withdraw":
        return {"status": ["active", "withdrawn"]}
    after = proposed_fields(session, row)
    if row.kind == "create" and row.group_id is not None:
        return fields.diff({}, after)
    return _diff_with(before, after)


def _diff_with(before: Mapping[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """What a change alters of a group: its confirmation date is not the organisation's to
    send (a change confirms the listing: `_confirm`), so it is no difference."""
    return fields.diff(before, store.keep_confirmation(before, after))


def duplicates_of(submission: Submission, session: Session | None = None
                  ) -> list[duplicates.DuplicateCandidate]:
    """For a moderator: listed groups a pending new group may duplicate (it may have been
    published by someone else since it was sent, or its sender said "not the same")."""
    session = _read_session(session)
    if submission.kind != "create" or submission.state not in OPEN_STATES:
        return []
    try:
        listing = prepare(session, submission.payload,
                          organisation=_publisher_for(session, "create",
                                                      submission.organisation_id, None))
    except P.Invalid:
        return []
    return duplicates.find(session, listing)


def submission_json(row: Submission) -> dict[str, Any]:
    """A submission as the API and the organisation's pages show it to its organisation."""
    return {
        "id": row.id, "kind": row.kind, "state": row.state, "group_id": row.group_id,
        "note": row.note,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "rejection_reason": row.decision_reason if row.state == "rejected" else None,
        "group": row.payload if row.kind in ("create", "update") else None,
        "links": {"self": f"/api/v1/submissions/{row.id}"},
    }


def organisation_listings(organisation_id: int,
                          session: Session | None = None) -> dict[str, list[dict]]:
    """The groups the organisation manages (with any pending change of each) and its
    submissions (newest first; superseded ones left out), with their states and rejection
    reasons: its own view, never another organisation's."""
    session = _read_session(session)
    groups = session.scalars(
        select(Group).where(Group.owner_organisation_id == organisation_id)
        .order_by(Group.name, Group.id)).all()
    subs = session.scalars(
        select(Submission).where(Submission.organisation_id == organisation_id,
                                 Submission.state != "superseded")
        .order_by(Submission.created_at.desc(), Submission.id.desc())).all()
    pending = {s.group_id: s.id for s in subs
               if s.state == "pending" and s.group_id is not None}
    out_groups = []
    for g in groups:
        out_groups.append({
            "id": g.id, "name": g.name, "status": g.status,
            "pending_submission_id": pending.get(g.id),
            "group": P.json_from_fields(fields.group_fields(session, g.id)),
            "links": {"self": f"/api/v1/groups/{g.id}", "html": f"/groups/{g.id}"},
        })
    return {"groups": out_groups, "submissions": [submission_json(s) for s in subs]}


@dataclass(frozen=True)
class Provenance:
    """Where a group's facts come from, for its page: `kind` is "submitted" (an
    organisation sent it, `by` names it) or "imported" (`by` names the source); `at` is
    when that happened, `updated_at` the latest change written."""

    kind: str
    by: str
    at: dt.datetime | None
    updated_at: dt.datetime | None = None
    managed_by: str | None = None  # an organisation that claimed an imported listing

    @property
    def sentence(self) -> str:
        verb = "Submitted by" if self.kind == "submitted" else "Imported from"
        when = f" on {self.at:%-d %B %Y}" if self.at else ""
        text = f"{verb} {self.by}{when}"
        if self.managed_by:
            text += f"; managed by {self.managed_by}"
        return text + "."


def provenance(group_id: int, session: Session | None = None) -> Provenance | None:
    """"submitted by <organisation>" or "imported from <source>", and when; None for an
    unknown group."""
    session = _read_session(session)
    group = session.get(Group, group_id) if 0 < group_id < 2**31 else None
    if group is None:
        return None
    created = session.scalars(
        select(Submission).where(Submission.group_id == group_id,
                                 Submission.kind == "create", Submission.state == "approved")
        .order_by(Submission.decided_at)).first()
    if created is not None:
        org = session.get(Organisation, created.organisation_id)
        return Provenance("submitted", org.name if org else "an organisation",
                          created.decided_at, group.updated_at)
    ref = session.scalars(
        select(ListingSource).where(ListingSource.group_id == group_id)
        .order_by(ListingSource.first_seen_at)).first()
    owner = group.owner_organisation.name if group.owner_organisation else None
    if ref is not None:
        return Provenance("imported", ref.source, ref.first_seen_at, group.updated_at,
                          managed_by=owner)
    return Provenance("submitted" if owner else "imported", owner or "this site",
                      group.created_at, group.updated_at)


# ------------------------------------------------------------------------------ mail


def _outcome_mail(session: Session, row: Submission) -> list[tuple[str, str, str]]:
    """(to, subject, body) for the submitter of `row`, decided just now; read inside the
    transaction, sent after it commits."""
    from finder.submissions import emails

    user_id = (row.created_by or {}).get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    recipients = [user.email] if user is not None and not user.disabled else []
    if not recipients:
        from finder.accounts.organisations import members_of

        recipients = [u.email for u in members_of(session, row.organisation_id)
                      if not u.disabled]
    org = session.get(Organisation, row.organisation_id)
    name = None
    if row.group_id is not None:
        group = session.get(Group, row.group_id)
        name = group.name if group is not None else None
    subject, body = emails.outcome(row, org.name if org else "", name or _proposed_name(row))
    return [(to, subject, body) for to in recipients]


def _send(mails: list[tuple[str, str, str]]) -> None:
    """After the decision has committed: a mail server that is down must not turn the
    moderator's decision into an error page (it stands; the failure is logged)."""
    from finder.submissions import emails

    for to, subject, body in mails:
        try:
            emails.send(to, subject, body)
        except Exception:  # noqa: BLE001 -- any mailer's failure, logged and survived
            log.exception("could not mail the decision on a submission (%s)", subject)
