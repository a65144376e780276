"""/moderation: the queue, one change, approve / reject, trusted organisations, a group's
history (see the package's docstring)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from finder.accounts.access import moderator_required
from finder.accounts.actor import current_actor
from finder.db import get_session
from finder.models import Group, Organisation, Submission
from finder.submissions.forms import ActionForm, RejectForm

bp = Blueprint("moderation", __name__)


@bp.app_template_filter("readable")
def _readable(value, key: str):
    from finder.moderation.values import readable

    return readable(key, value)

INVALID = 422


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
    return render_template("moderation/queue.html", items=_service().queue(get_session()))


def _submission(submission_id: int) -> Submission:
    submission = get_session().get(Submission, submission_id)
    if submission is None:
        abort(404)
    return submission


def _change_page(submission: Submission, reject_form: RejectForm | None = None,
                 status: int = 200):
    from finder.submissions.payload import Invalid

    session = get_session()
    problems = []
    try:
        diff = _service().change_diff(submission, session)
    except Invalid as exc:  # it no longer validates: say why, and it can only be rejected
        diff, problems = {}, exc.as_list()
    duplicates = _service().duplicates_of(submission, session)
    groups = _group_names([submission.group_id])
    organisation = session.get(Organisation, submission.organisation_id) \
        if submission.organisation_id else None
    return render_template(
        "moderation/change.html", change=submission, diff=diff, labels=_labels(),
        organisation=organisation, name=submission_name(submission, groups),
        problems=problems, duplicates=duplicates, action=ActionForm(),
        reject_form=reject_form or RejectForm(formdata=None),
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
    from finder.submissions.payload import Invalid

    try:
        service.approve(submission.id, current_actor())
    except Invalid as exc:
        form = RejectForm(formdata=None)
        form.form_errors.extend(f"{e['field']}: {e['message']}" for e in exc.as_list())
        return _change_page(submission, form, INVALID)
    except service.WrongState as exc:
        flash(exc.message)
        return redirect(url_for("moderation.change", submission_id=submission.id))
    flash(_("Approved: “%(name)s”.", name=submission_name(
        submission, _group_names([submission.group_id]))))
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
    from finder.submissions.payload import Invalid

    try:
        service.reject(submission.id, current_actor(), form.reason.data or "")
    except Invalid as exc:
        for e in exc.as_list():
            form.add_field_error("reason", e["message"])
        return _change_page(submission, form, INVALID)
    except service.WrongState as exc:
        flash(exc.message)
        return redirect(url_for("moderation.change", submission_id=submission.id))
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
    _service().set_trusted(organisation_id, value == "on", actor=current_actor())
    name = get_session().get(Organisation, organisation_id).name
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
                           provenance=_service().provenance(group_id, session))
