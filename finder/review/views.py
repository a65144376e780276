"""The moderators' pages for keeping listings true: open problem reports per listing, and
the review queue of what ingestion could not decide (blueprint `listing_care`, under
/moderation, beside the submission moderation pages)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from finder.accounts.access import moderator_required
from finder.accounts.actor import current_actor
from finder.db import get_session
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
