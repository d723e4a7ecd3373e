"""Pages of the change-review queue: the queue, one review with its impact, unmatched entries."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance import clock
from compliance.alerts import services as alerts
from compliance.applicability import services as applicability
from compliance.auth.access import require
from compliance.auth.roles import Permission
from compliance.auth.views import current_actor
from compliance.errors import Invalid, NotFound
from compliance.extensions import db
from compliance.feeds import services as feeds
from compliance.reviews import services
from compliance.reviews.forms import STATE_LABELS, PromoteForm, ReviewForm
from compliance.reviews.models import STATES, ChangeReview

bp = Blueprint("reviews", __name__, url_prefix="/reviews")


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.route("/")
@require(Permission.READ_REVIEWS)
def index() -> ResponseReturnValue:
    """The queue: reviews by state, with filters and counts."""
    try:
        filters = services.ReviewFilter.from_args(request.args)
    except Invalid as error:
        flash(error.message, "warning")
        filters = services.ReviewFilter()
    sort = request.args.get("sort", "opened")
    sort = sort if sort in services.SORTS else "opened"
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    page = db.paginate(
        services.reviews_query(filters, user_id=current_user.id, sort=sort, direction=direction),
        page=_page(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "reviews/index.html",
        page=page,
        filters=filters,
        counts=services.state_counts(),
        overdue=services.overdue_count(),
        states=STATES,
        labels=STATE_LABELS,
        users=services.assignable_users(),
        sort=sort,
        direction=direction,
        today=clock.today(),
        due_label=services.due_label,
    )


@bp.route("/<int:review_id>")
@require(Permission.READ_REVIEWS)
def detail(review_id: int) -> ResponseReturnValue:
    """One review: the entry, what changed, why it matched, and what it touches."""
    review = services.get_review(review_id)
    form = ReviewForm()
    form.fill(review, services.assignable_users())
    return _detail(review, form)


def _detail(review: ChangeReview, form: ReviewForm, status: int = 200) -> ResponseReturnValue:
    # ?profile=<id> limits the impact to the obligations that bind that service (issue #8);
    # those needing legal judgement stay in, marked, since they may bind it.
    profile, applies, judgement = None, None, set()
    profile_id = request.args.get("profile", type=int)
    if profile_id is not None:
        try:
            profile = applicability.get_profile(profile_id)
        except NotFound:
            flash("That service profile no longer exists; showing every obligation.", "warning")
        else:
            evaluation = applicability.evaluate_profile(profile.id)
            applies = evaluation.ids("applies", "needs-judgement")
            judgement = evaluation.ids("needs-judgement")
    impacts = services.impact(review, limit_to=applies)
    return render_template(
        "reviews/detail.html",
        review=review,
        entry=review.entry,
        form=form,
        impacts=impacts,
        profile=profile,
        profiles=applicability.list_profiles(),
        judgement=judgement,
        acknowledgements=alerts.review_acknowledgements(review.id),
        teams=services.affected_teams(impacts),
        diffs=feeds.revision_diffs(review.entry),
        labels=STATE_LABELS,
        today=clock.today(),
        due_label=services.due_label,
        threshold=current_app.config["FEEDS_MATCH_THRESHOLD"],
    ), status


@bp.route("/<int:review_id>", methods=["POST"])
@require(Permission.TRIAGE_REVIEWS)
def update(review_id: int) -> ResponseReturnValue:
    """Move, assign, date, decide or annotate a review."""
    review = services.get_review(review_id)
    form = ReviewForm()
    form.fill(review, services.assignable_users())
    if not form.validate_on_submit():
        flash("Not saved: check the fields below.", "danger")
        return _detail(review, form, 422)
    try:
        services.update_review(review.id, form.changes(review), actor=current_actor())
    except Invalid as error:
        flash(error.message, "danger")
        return _detail(review, form, 422)
    flash(f"Review #{review.id} saved: {STATE_LABELS[review.state].lower()}.", "success")
    return redirect(url_for("reviews.detail", review_id=review.id))


@bp.route("/unmatched")
@require(Permission.READ_REVIEWS)
def unmatched() -> ResponseReturnValue:
    """Feed entries that opened no review: visible, for a person to promote."""
    text = request.args.get("q", "").strip()[:200]
    page = db.paginate(
        feeds.entries_query(unmatched=True, text=text),
        page=_page(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "reviews/unmatched.html",
        page=page,
        text=text,
        form=PromoteForm(),
        threshold=current_app.config["FEEDS_MATCH_THRESHOLD"],
        counts=services.state_counts(),
    )


@bp.route("/promote/<int:entry_id>", methods=["POST"])
@require(Permission.TRIAGE_REVIEWS)
def promote(entry_id: int) -> ResponseReturnValue:
    """Open a review for an entry the score left below the threshold."""
    form = PromoteForm()
    if not form.validate_on_submit():
        flash("Use the Open a review button.", "danger")
        return redirect(url_for("feeds.entry", entry_id=entry_id))
    try:
        review = services.promote_entry(entry_id, actor=current_actor())
    except Invalid as error:
        flash(error.message, "warning")
        return redirect(url_for("feeds.entry", entry_id=entry_id))
    flash(f"Review #{review.id} opened.", "success")
    return redirect(url_for("reviews.detail", review_id=review.id))
