"""An organisation's own listings, under /account/organisations/<id>/: what it has listed (and
its drafts, what waits for review, what was turned down and why), the group form (new, a
draft, an edit of a published group), withdrawing; and claiming an imported listing.

The pages only gather what people type and show what `finder.submissions.service` answers:
that module alone validates (through `payload`) and moves submissions between states. Other
organisations' pages and changes answer 404, so their ids are not even confirmed.
"""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from finder.accounts import organisations
from finder.accounts.actor import current_actor
from finder.accounts.extensions import limiter
from finder.db import get_session
from finder.models import Group, Organisation, Submission
from finder.submissions import form_payload
from finder.submissions.forms import (
    MAX_SCHEDULE_ROWS,
    SPARE_SCHEDULE_ROWS,
    ActionForm,
    ClaimForm,
    GroupForm,
    WithdrawForm,
)

bp = Blueprint("listings", __name__)

INVALID = 422
# the buttons of the group form (its `action`)
CHECK, ADD_ROW, DRAFT, SUBMIT = "check", "add_schedule", "draft", "submit"


def _db():
    return current_app.extensions["db"]


def _service():
    from finder.submissions import service

    return service


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _organisation(organisation_id: int) -> Organisation:
    """The organisation if the signed-in user belongs to it; 404 otherwise."""
    session = get_session()
    if organisations.membership(session, current_user.id, organisation_id) is None:
        abort(404)
    return session.get(Organisation, organisation_id)


def _own_submission(org: Organisation, submission_id: int) -> Submission:
    submission = get_session().get(Submission, submission_id)
    if submission is None or submission.organisation_id != org.id:
        abort(404)
    return submission


def _own_group(org: Organisation, group_id: int) -> Group:
    group = get_session().get(Group, group_id)
    if group is None or group.owner_organisation_id != org.id or group.status == "withdrawn":
        abort(404)
    return group


# --- the list ----------------------------------------------------------------------------

@bp.get("/organisations/<int:organisation_id>/listings")
@login_required
def listings(organisation_id: int):
    org = _organisation(organisation_id)
    overview = _service().organisation_listings(org.id, get_session())
    ids = {s["group_id"] for s in overview["submissions"] if s.get("group_id")}
    names = dict(get_session().execute(
        select(Group.id, Group.name).where(Group.id.in_(ids))).all()) if ids else {}
    return render_template("listings/listings.html", organisation=org, overview=overview,
                           group_names=names,
                           action=ActionForm(), withdraw_form=WithdrawForm(formdata=None))


# --- the group form ----------------------------------------------------------------------

def _blank_form() -> GroupForm:
    form = GroupForm(formdata=None, data={"format": "in_person", "join_mode": "drop_in",
                                          "cost": "free", "facilitation": "peer",
                                          "languages": ["en"], "country": "GB"})
    return form


def _form_for(data: dict[str, Any]) -> GroupForm:
    rows = data.get("schedules") or []
    data = {**data, "schedules": rows + [{}] * SPARE_SCHEDULE_ROWS}
    return GroupForm(formdata=None, data=data)


def _posted_form() -> GroupForm:
    """The form as posted, with one more schedule row when asked for (keeps what was typed)."""
    formdata = request.form
    if request.form.get("action") == ADD_ROW:
        rows = sum(1 for key in request.form if key.endswith("-weekday")
                   and key.startswith("schedules-"))
        if rows < MAX_SCHEDULE_ROWS:
            formdata = MultiDict(request.form)
            formdata.setlist(f"schedules-{rows}-repeat", ["weekly"])
    return GroupForm(formdata=formdata)


def _form_data(form: GroupForm) -> dict[str, Any]:
    data = {f.name: f.data for f in form if f.name not in ("csrf_token", "schedules")}
    data["schedules"] = [row.form.data for row in form.schedules]
    return data


def _show_errors(form: GroupForm, errors: list[dict[str, str]], rows: list[int]) -> None:
    """Each error by its box, the API's field path in its message said as the box's label
    ("schedules[0].start_time is required" -> "Starts at (meeting time 1) is required")."""
    for error in errors:
        path, message = error.get("field", ""), error.get("message", "")
        target = form_payload.form_target(path, rows)
        box = form.box(target) if target else None
        if box is not None and path and path in message:
            label = str(box.label.text).removesuffix(" (optional)")
            row = re.match(r"schedules-(\d+)-", target)
            if row:
                label = _("%(box)s (meeting time %(n)d)", box=label, n=int(row.group(1)) + 1)
            message = message.replace(path, label)
        form.add_field_error(target, message)


def _render_form(org: Organisation, form: GroupForm, *, submission=None, group=None,
                 place=None, duplicates=None, status: int = 200):
    return render_template(
        "listings/group_form.html", organisation=org, form=form, submission=submission,
        group=group, place=place, duplicates=duplicates, status=status,
        withdraw_form=WithdrawForm(formdata=None),
    ), status


def _check_place(form: GroupForm, payload: dict[str, Any]):
    """Where the address puts the venue, shown before saving; problems go next to the box."""
    from finder.submissions.place_check import check_place

    place, problem = check_place(get_session(), payload)
    if problem is not None:
        form.add_field_error(form_payload.form_target(problem[0], []), problem[1])
    return place


def _handle_form(org: Organisation, *, submission: Submission | None = None,
                 group: Group | None = None):
    form = _posted_form()
    if not form.validate():  # only the CSRF token is checked here
        return _render_form(org, form, submission=submission, group=group, status=400)
    action = request.form.get("action") or SUBMIT
    if action == ADD_ROW:
        return _render_form(org, form, submission=submission, group=group)
    payload, rows = form_payload.payload_from_form(_form_data(form))
    if action == CHECK:
        place = _check_place(form, payload)
        return _render_form(org, form, submission=submission, group=group, place=place,
                            status=INVALID if form.has_errors() else 200)
    service = _service()
    from finder.submissions.payload import Invalid

    # a change sent back is sent again as a new one (the old one keeps its reason)
    reopen = submission is not None and submission.state == "draft"
    target = {"organisation_id": org.id, "actor": current_actor(org.id),
              "note": form.note.data or None,
              "submission_id": submission.id if reopen else None,
              "group_id": None if reopen else (group.id if group else None)}
    try:
        if action == DRAFT:
            outcome = service.save_draft(payload, **target)
        else:
            outcome = service.submit(payload, not_duplicate_of=_ids(form.not_duplicate.data),
                                     **target)
    except Invalid as exc:
        _show_errors(form, exc.as_list(), rows)
        return _render_form(org, form, submission=submission, group=group, status=INVALID)
    except service.PossibleDuplicate as exc:
        form.not_duplicate.data = ",".join(str(c.group_id) for c in exc.candidates)
        return _render_form(org, form, submission=submission, group=group,
                            duplicates=_candidates(exc.candidates), status=409)
    except service.SubmissionError as exc:
        form.form_errors.append(exc.message)
        return _render_form(org, form, submission=submission, group=group, status=exc.status)
    flash({
        "draft": _("Saved as a draft. Only your organisation can see it."),
        "pending": _("Sent for review. A moderator will look at it soon; we will email you "
                     "when it is decided."),
        "published": _("Published: your organisation is trusted, so it is live now."),
    }.get(outcome.state, _("Saved.")))
    return redirect(url_for("listings.listings", organisation_id=org.id))


def _ids(text: str | None) -> list[int]:
    return [int(part) for part in (text or "").split(",") if part.strip().isdigit()]


def _candidates(candidates) -> list[dict[str, Any]]:
    """The groups a new one may duplicate, for "is this the same group?"."""
    return [{"group_id": c.group_id, "name": c.name, "reason": ", ".join(c.reasons)}
            for c in candidates]


@bp.route("/organisations/<int:organisation_id>/listings/new", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_SUBMIT"],
               methods=["POST"])
def new_group(organisation_id: int):
    org = _organisation(organisation_id)
    if request.method == "GET":
        return _render_form(org, _blank_form())
    return _handle_form(org)


@bp.route("/organisations/<int:organisation_id>/submissions/<int:submission_id>",
          methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_SUBMIT"],
               methods=["POST"])
def edit_submission(organisation_id: int, submission_id: int):
    """A draft (or a change sent back) opened again; a pending one can be read."""
    org = _organisation(organisation_id)
    submission = _own_submission(org, submission_id)
    group = get_session().get(Group, submission.group_id) if submission.group_id else None
    editable = submission.state in ("draft", "rejected") and submission.kind in (
        "create", "update") and (group is None or group.owner_organisation_id == org.id)
    if request.method == "GET" or not editable:
        if request.method == "POST":
            abort(409)
        form = _form_for(form_payload.form_from_payload(submission.payload))
        form.note.data = submission.note or ""
        return _render_form(org, form, submission=submission, group=group)
    return _handle_form(org, submission=submission, group=group)


@bp.route("/organisations/<int:organisation_id>/groups/<int:group_id>/edit",
          methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_SUBMIT"],
               methods=["POST"])
def edit_group(organisation_id: int, group_id: int):
    org = _organisation(organisation_id)
    group = _own_group(org, group_id)
    if request.method == "GET":
        from finder.listings.fields import group_fields
        from finder.submissions.payload import json_from_fields

        return _render_form(org, _form_for(form_payload.form_from_payload(
            json_from_fields(group_fields(get_session(), group.id)))), group=group)
    return _handle_form(org, group=group)


@bp.post("/organisations/<int:organisation_id>/groups/<int:group_id>/withdraw")
@login_required
def withdraw_group(organisation_id: int, group_id: int):
    org = _organisation(organisation_id)
    group = _own_group(org, group_id)
    form = WithdrawForm()
    if not form.validate():
        abort(400)
    service = _service()
    from finder.submissions.payload import Invalid

    try:
        service.withdraw(group.id, actor=current_actor(org.id), organisation_id=org.id,
                         reason=form.reason.data or None)
    except Invalid as exc:
        flash(" ".join(e["message"] for e in exc.as_list()))
        return redirect(url_for("listings.edit_group", organisation_id=org.id,
                                group_id=group.id))
    except service.SubmissionError as exc:
        abort(exc.status)
    flash(_("“%(name)s” is withdrawn: it no longer appears in search.", name=group.name))
    return redirect(url_for("listings.listings", organisation_id=org.id))


@bp.post("/organisations/<int:organisation_id>/submissions/<int:submission_id>/cancel")
@login_required
def cancel_submission(organisation_id: int, submission_id: int):
    org = _organisation(organisation_id)
    submission = _own_submission(org, submission_id)
    if not ActionForm().validate():
        abort(400)
    service = _service()
    try:
        service.cancel(submission.id, actor=current_actor(org.id), organisation_id=org.id)
    except service.WrongState as exc:
        flash(exc.message)
    else:
        flash(_("Cancelled. Nothing of it was published."))
    return redirect(url_for("listings.listings", organisation_id=org.id))


# --- claiming an imported listing ----------------------------------------------------------

def _claimable(group_id: int) -> Group:
    group = get_session().get(Group, group_id)
    if group is None or group.status != "active":
        abort(404)
    return group


@bp.route("/groups/<int:group_id>/claim", methods=["GET", "POST"])
@login_required
def claim(group_id: int):
    """An organisation asks to manage a listing that ingestion imported; a moderator decides."""
    session = get_session()
    group = _claimable(group_id)
    mine = organisations.organisations_of(session, current_user.id)
    form = ClaimForm()
    status = 200
    if group.owner_organisation_id is not None:
        return render_template("listings/claim.html", group=group, organisations=mine,
                               form=form, already=True), 409
    if request.method == "POST" and form.validate():
        chosen = next((o for o in mine if str(o.id) == (form.organisation_id.data or "")),
                      None)
        if chosen is None:
            form.add_field_error("organisation_id", _("Choose the organisation claiming it."))
        else:
            service = _service()
            from finder.submissions.payload import Invalid

            try:
                service.request_claim(group.id, actor=current_actor(chosen.id),
                                      organisation_id=chosen.id, note=form.note.data or None)
            except Invalid as exc:
                for e in exc.as_list():
                    form.add_field_error("note", e["message"])
            except service.SubmissionError as exc:
                form.add_field_error("", exc.message)
            else:
                flash(_("Thank you: a moderator will check your claim on “%(name)s”.",
                        name=group.name))
                return redirect(url_for("listings.listings", organisation_id=chosen.id))
        status = INVALID
    elif request.method == "POST":
        status = 400
    return render_template("listings/claim.html", group=group, organisations=mine,
                           form=form, already=False), status
