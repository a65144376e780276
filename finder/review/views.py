"""The moderators' pages for keeping listings true: open problem reports per listing, and
the review queue of what ingestion could not decide (blueprint `listing_care`, under
/moderation, beside the submission moderation pages)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from finder.accounts.access import moderator_required
from finder.accounts.actor import current_actor
from finder.db import get_session
from finder.freshness import rules
from finder.listings import store
from finder.models import Group
from finder.reports import service as reports
from finder.review import service as review

bp = Blueprint("listing_care", __name__, url_prefix="/moderation")


@bp.get("/reports")
@moderator_required
def reports_page():
    return render_template("moderation/care_reports.html",
                           listings=reports.open_reports(get_session()),
                           kinds=reports.KIND_LABELS, resolutions=reports.RESOLUTION_LABELS)


@bp.post("/reports/<int:report_id>/resolve")
@moderator_required
def resolve_report(report_id: int):
    try:
        with current_app.extensions["db"].transaction() as session:
            reports.resolve(session, report_id, request.form.get("resolution"),
                            actor=current_actor())
    except LookupError:
        abort(404)
    except reports.ReportError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".reports_page")), 303
    flash(f"Report {report_id} resolved.")
    return redirect(url_for(".reports_page")), 303


@bp.get("/review")
@moderator_required
def review_page():
    session = get_session()
    return render_template("moderation/care_review.html",
                           matches=review.open_matches(session),
                           conflicts=review.open_conflicts(session))


@bp.post("/review/matches/<int:review_id>")
@moderator_required
def decide_match(review_id: int):
    return _decide(review.decide_match, review_id, request.form.get("decision"))


@bp.post("/review/conflicts/<int:conflict_id>")
@moderator_required
def decide_conflict(conflict_id: int):
    return _decide(review.decide_conflict, conflict_id, request.form.get("chosen"))


def _decide(decide, item_id: int, choice: str | None):
    try:
        with current_app.extensions["db"].transaction() as session:
            decide(session, item_id, choice, actor=current_actor())
    except LookupError:
        abort(404)
    except (review.ReviewError, ValueError) as exc:
        flash(getattr(exc, "message", str(exc)), "error")
        return redirect(url_for(".review_page")), 303
    flash("Decision saved.")
    return redirect(url_for(".review_page")), 303


@bp.get("/stale")
@moderator_required
def stale_page():
    """Listings that may be out of date, and those paused for want of confirmation."""
    today = dt.datetime.now(dt.UTC).date()
    confirmed = Group.last_confirmed
    groups = get_session().scalars(select(Group).where(
        or_(Group.status == "active", Group.pause_reason == rules.PAUSED_UNCONFIRMED),
        Group.status != "withdrawn",
        or_(Group.reported_stale, confirmed <= rules.stale_before(today),
            confirmed.is_(None) & (Group.created_at < rules.stale_before(today)),
            Group.status == "paused"))
        .order_by(confirmed.nulls_first(), Group.id).limit(500)).all()
    return render_template("moderation/care_stale.html", groups=groups)


@bp.post("/listings/<int:group_id>/confirm")
@moderator_required
def confirm_listing(group_id: int):
    try:
        with current_app.extensions["db"].transaction() as session:
            confirmed = store.confirm_group(session, group_id, actor=current_actor(),
                                            today=dt.datetime.now(dt.UTC).date())
    except LookupError:
        abort(404)
    flash(f"Listing {group_id} confirmed." if confirmed
          else f"Listing {group_id} is withdrawn: restore it first.")
    return redirect(url_for(".stale_page")), 303
