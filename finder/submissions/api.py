"""The write API: organisations submit, change and withdraw their groups with a token.

`Authorization: Bearer <token>` on every endpoint (`finder.accounts.api_tokens`): none, an
unknown or a revoked token is a 401. Another organisation's *group* is a 403 (groups are
public, so saying it exists reveals nothing); another organisation's *submission* is a 404
(drafts and pending changes are private). Bad input is a 422 `{"errors": [{"field",
"message"}]}` naming each field; a new group that looks like one already listed is a 409
with the candidates (send again with their ids in `not_duplicate_of` if it is a different
group). Nothing is written when any of these is answered. Writes are rate limited
(RATELIMIT_SUBMIT, per client address).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, request

from finder.accounts.actor import current_actor
from finder.accounts.api_tokens import require_token
from finder.accounts.extensions import limiter
from finder.db import get_session
from finder.errors import json_error
from finder.listings import fields
from finder.models import Submission
from finder.submissions import payload as P
from finder.submissions import service

bp = Blueprint("submissions_api", __name__)

MAX_BODY = 256 * 1024  # a group with 20 schedules is a few kB


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def _errors(errors: list[dict], status: int = 422) -> Response:
    return _json({"errors": errors}, status)


def _limited():
    return limiter.limit(lambda: current_app.config["RATELIMIT_SUBMIT"],
                         methods=["POST", "PATCH", "DELETE"])


class BadBody(Exception):
    pass


def _body() -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadBody(f"the body is larger than {MAX_BODY // 1024} kB")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        raise BadBody(f"the body is larger than {MAX_BODY // 1024} kB")
    if not raw.strip():
        raise BadBody("send the group as a JSON object (Content-Type: application/json)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"the body is not valid JSON: {exc}") from None


@bp.errorhandler(BadBody)
def _bad_body(exc: BadBody):
    return _errors([{"field": "", "message": str(exc)}], 400)


@bp.errorhandler(P.Invalid)
def _invalid(exc: P.Invalid):
    return _errors(exc.as_list())


@bp.errorhandler(service.PossibleDuplicate)
def _duplicate(exc: service.PossibleDuplicate):
    return _json({"error": {"message": exc.message, "field": "not_duplicate_of"},
                  "duplicates": [c.as_dict() for c in exc.candidates]}, 409)


@bp.errorhandler(service.SubmissionError)
def _refused(exc: service.SubmissionError):
    return json_error(exc.status, exc.message)


def _outcome_response(outcome: service.Outcome, *, created: bool) -> Response:
    session = get_session()
    session.expire_all()  # the change committed on another connection: read it afresh
    row = session.get(Submission, outcome.submission_id) if outcome.submission_id else None
    body: dict[str, Any] = {"state": outcome.state,
                            "submission": service.submission_json(row) if row else None,
                            "group_id": outcome.group_id}
    if outcome.place is not None:
        body["place"] = outcome.place
    if outcome.state == "published":
        body["links"] = {"group": f"/api/v1/groups/{outcome.group_id}",
                         "html": f"/groups/{outcome.group_id}"}
        status = 201 if created else 200
        return _json(body, status, {"Location": f"/api/v1/groups/{outcome.group_id}"})
    if outcome.state in ("pending", "draft"):
        return _json(body, 202,
                     {"Location": f"/api/v1/submissions/{outcome.submission_id}"})
    return _json(body, 200)  # withdrawn, cancelled, unchanged: done


@bp.post("/groups")
@_limited()
@require_token
def create_group():
    """A new group: 201 published (trusted organisation) or 202 pending."""
    group, options = P.split_request(_body())
    outcome = service.submit(group, actor=current_actor(), organisation_id=g.organisation_id,
                             note=options["note"], not_duplicate_of=options["not_duplicate_of"])
    return _outcome_response(outcome, created=True)


def _patch_base(group_id: int) -> dict:
    """What a PATCH of an owned group applies to: the organisation's pending change of it
    when there is one (so two PATCHes in a row add up), else the published group."""
    session = get_session()
    service.owned_group(session, group_id, g.organisation_id)
    pending = session.query(Submission).filter(
        Submission.organisation_id == g.organisation_id, Submission.group_id == group_id,
        Submission.kind == "update", Submission.state == "pending",
    ).order_by(Submission.id.desc()).first()
    if pending is not None and isinstance(pending.payload, dict):
        return pending.payload
    return P.json_from_fields(fields.group_fields(session, group_id))


@bp.patch("/groups/<int:group_id>")
@_limited()
@require_token
def patch_group(group_id: int):
    """A change to an owned group (JSON merge patch): 202 pending or 200 published."""
    base = _patch_base(group_id)
    patch, options = P.split_request(_body())
    if not isinstance(patch, dict):
        raise P.Invalid([P.FieldError("", f"the body must be a JSON object, not {P.q(patch)}")])
    outcome = service.submit(P.merge_patch(base, patch), actor=current_actor(),
                             organisation_id=g.organisation_id, group_id=group_id,
                             note=options["note"])
    return _outcome_response(outcome, created=False)


@bp.delete("/groups/<int:group_id>")
@_limited()
@require_token
def delete_group(group_id: int):
    """Withdraw an owned group, at once (see `service.withdraw`)."""
    reason = request.args.get("reason")
    outcome = service.withdraw(group_id, actor=current_actor(),
                               organisation_id=g.organisation_id, reason=reason)
    return _outcome_response(outcome, created=False)


@bp.post("/groups/<int:group_id>/claim")
@_limited()
@require_token
def claim_group(group_id: int):
    """Ask to manage an imported group: 202, a pending claim for a moderator."""
    note = None
    if request.get_data(cache=True).strip():
        _, options = P.split_request(_body())
        note = options["note"]
    outcome = service.request_claim(group_id, actor=current_actor(),
                                    organisation_id=g.organisation_id, note=note)
    return _outcome_response(outcome, created=False)


@bp.get("/organisations/me/groups")
@require_token
def own_groups():
    """The organisation's groups and submissions, with their states."""
    return _json(service.organisation_listings(g.organisation_id, get_session()))


@bp.get("/submissions/<int:submission_id>")
@require_token
def get_submission(submission_id: int):
    row = service._submission(get_session(), submission_id, organisation_id=g.organisation_id)
    return _json(service.submission_json(row))


@bp.patch("/submissions/<int:submission_id>")
@_limited()
@require_token
def patch_submission(submission_id: int):
    """Change a pending (or draft) new group or change: it is (again) pending."""
    row = service._submission(get_session(), submission_id, organisation_id=g.organisation_id)
    patch, options = P.split_request(_body())
    if not isinstance(patch, dict):
        raise P.Invalid([P.FieldError("", f"the body must be a JSON object, not {P.q(patch)}")])
    if row.kind not in ("create", "update") or row.state not in service.OPEN_STATES:
        raise service.WrongState(f"submission {submission_id} is {row.state}; it can no "
                                 "longer be changed")
    outcome = service.submit(P.merge_patch(row.payload or {}, patch), actor=current_actor(),
                             organisation_id=g.organisation_id, submission_id=submission_id,
                             note=options["note"],
                             not_duplicate_of=options["not_duplicate_of"])
    return _outcome_response(outcome, created=row.kind == "create")


@bp.delete("/submissions/<int:submission_id>")
@_limited()
@require_token
def cancel_submission(submission_id: int):
    outcome = service.cancel(submission_id, actor=current_actor(),
                             organisation_id=g.organisation_id)
    return _outcome_response(outcome, created=False)
