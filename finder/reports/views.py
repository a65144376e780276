""""Report a problem with this listing": a public form (no account), CSRF-protected, with a
honeypot field, rate-limited per address."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField

from finder.accounts.extensions import limiter
from finder.db import get_session
from finder.freshness import mails
from finder.groups import MAX_ID
from finder.models import Group
from finder.reports import service
from finder.reports.models import REPORT_KINDS

bp = Blueprint("reports", __name__)

KIND_CHOICES = [
    ("didnt_meet", "The group didn't meet"),
    ("wrong_time_place", "The time or place is wrong"),
    ("link_phone", "The link or phone number doesn't work"),
    ("other", "Something else"),
]
assert [k for k, _ in KIND_CHOICES] == list(REPORT_KINDS)


class ReportForm(FlaskForm):
    kind = RadioField("What is wrong?", choices=KIND_CHOICES, validate_choice=False)
    details = TextAreaField("Tell us more (optional, required for “something else”)")
    # a field people never see (hidden by CSS, labelled "leave empty"); bots fill it in
    website = StringField("Leave this empty")


def _group(group_id: int) -> Group:
    group = get_session().get(Group, group_id) if 0 < group_id <= MAX_ID else None
    if group is None or group.status == "withdrawn":
        abort(404)
    return group


@bp.route("/groups/<int:group_id>/report", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config.get("RATELIMIT_REPORT", "5 per hour"),
               methods=["POST"])
def report(group_id: int):
    group = _group(group_id)
    form = ReportForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.website.data:  # the honeypot: answer as if it worked, store nothing
            return render_template("reports/thanks.html", group=group)
        try:
            with current_app.extensions["db"].transaction() as session:
                _, notices = service.file_report(session, group_id, form.kind.data,
                                                 form.details.data)
        except service.ReportError as exc:
            getattr(form, exc.field).errors = [exc.message]
            return render_template("reports/report.html", group=group, form=form), 422
        for n in notices:
            mails.send_report(n.to, n.group_id, n.group_name, service.KIND_LABELS[n.kind],
                              n.details, moderator=n.moderator)
        return render_template("reports/thanks.html", group=group)
    status = 400 if request.method == "POST" else 200  # a missing or stale CSRF token
    return render_template("reports/report.html", group=group, form=form), status
