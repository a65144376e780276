"""/moderation: the queue, one change, approve / reject, trusted organisations, a group's
history (see the package's docstring)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from finder.accounts.access import moderator_required
from finder.accounts.actor import current_actor
from finder.db import get_session
from finder.models import Group, Organisation, Submission
from finder.submissions.forms import ActionForm, RejectForm

bp = Blueprint("moderation", __name__)

INVALID = 422


def _db():
    return current_app.extensions["db"]


def _service():
    from finder.submissions import service

    return service


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _labels() -> dict[str, str]:
    from finder.listings.fields import FIELD_LABELS

    return FIELD_LABELS


def _organisation_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(get_session().execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def _group_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(get_session().execute(
        select(Group.id, Group.name).where(Group.id.in_(ids))).all())


def submission_name(submission: Submission, group_names: dict[int, str]) -> str:
    payload = submission.payload or {}
    return (payload.get("name") or (payload.get("fields") or {}).get("name")
            or group_names.get(submission.group_id) or _("(no name)"))


@bp.get("/")
@moderator_required
def queue():
    changes = list(_service().queue(get_session()))
    groups = _group_names(s.group_id for s in changes)
    return render_template(
        "moderation/queue.html", changes=changes,
        organisations=_organisation_names(s.organisation_id for s in changes),
        name_of=lambda s: submission_name(s, groups))


def _submission(submission_id: int) -> Submission:
    submission = get_session().get(Submission, submission_id)
    if submission is None:
        abort(404)
    return submission


def _change_page(submission: Submission, reject_form: RejectForm | None = None,
                 status: int = 200):
    session = get_session()
    diff = _service().change_diff(session, submission)
    groups = _group_names([submission.group_id])
    organisation = session.get(Organisation, submission.organisation_id) \
        if submission.organisation_id else None
    return render_template(
        "moderation/change.html", change=submission, diff=diff, labels=_labels(),
        organisation=organisation, name=submission_name(submission, groups),
        action=ActionForm(), reject_form=reject_form or RejectForm(formdata=None),
    ), status


@bp.get("/changes/<int:submission_id>")
@moderator_required
def change(submission_id: int):
    return _change_page(_submission(submission_id))


def _decided(submission: Submission) -> bool:
    if submission.state != "pending":
        flash(_("This change was already decided (%(state)s).", state=submission.state))
        return True
    return False


@bp.post("/changes/<int:submission_id>/approve")
@moderator_required
def approve(submission_id: int):
    submission = _submission(submission_id)
    if not ActionForm().validate():
        abort(400)
    if _decided(submission):
        return redirect(url_for("moderation.change", submission_id=submission.id))
    service = _service()
    try:
        with _db().transaction() as session:
            service.approve(session, submission.id, actor=current_actor())
    except service.SubmissionInvalid as exc:
        form = RejectForm(formdata=None)
        for e in exc.errors:
            form.form_errors.append(f"{e.get('field')}: {e.get('message')}")
        return _change_page(submission, form, INVALID)
    flash(_("Approved: “%(name)s” is published.", name=submission_name(submission, {})))
    return redirect(url_for("moderation.queue"))


@bp.post("/changes/<int:submission_id>/reject")
@moderator_required
def reject(submission_id: int):
    submission = _submission(submission_id)
    form = RejectForm()
    if not form.validate():
        abort(400)
    if _decided(submission):
        return redirect(url_for("moderation.change", submission_id=submission.id))
    service = _service()
    try:
        with _db().transaction() as session:
            service.reject(session, submission.id, actor=current_actor(),
                           reason=form.reason.data or "")
    except service.SubmissionInvalid as exc:
        for e in exc.errors:
            form.add_field_error("reason", e.get("message", ""))
        return _change_page(submission, form, INVALID)
    flash(_("Sent back to the organisation with your reason."))
    return redirect(url_for("moderation.queue"))


@bp.get("/organisations")
@moderator_required
def organisations():
    rows = list(get_session().scalars(select(Organisation).order_by(Organisation.name)))
    return render_template("moderation/organisations.html", organisations=rows,
                           action=ActionForm())


@bp.post("/organisations/<int:organisation_id>/trusted/<any(on, off):value>")
@moderator_required
def set_trusted(organisation_id: int, value: str):
    if get_session().get(Organisation, organisation_id) is None:
        abort(404)
    if not ActionForm().validate():
        abort(400)
    with _db().transaction() as session:
        _service().set_trusted(session, organisation_id, value == "on", actor=current_actor())
        name = session.get(Organisation, organisation_id).name
    flash(_("%(name)s is trusted: its changes publish at once.", name=name) if value == "on"
          else _("%(name)s is no longer trusted: its changes wait for review.", name=name))
    return redirect(url_for("moderation.organisations"))


@bp.get("/groups/<int:group_id>/history")
@moderator_required
def history(group_id: int):
    from finder.listings import audit

    session = get_session()
    group = session.get(Group, group_id)
    if group is None:
        abort(404)
    return render_template("moderation/history.html", group=group,
                           entries=audit.history(session, group_id), labels=_labels(),
                           provenance=_service().provenance(session, group_id))
