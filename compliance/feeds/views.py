"""Pages for feed sources (admins manage them) and feed entries (read with their revisions)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from compliance import clock
from compliance.auth.access import require
from compliance.auth.roles import Permission
from compliance.auth.views import current_actor
from compliance.errors import Conflict, Invalid
from compliance.extensions import db
from compliance.feeds import services
from compliance.feeds.forms import ConfirmForm, SourceEditForm, SourceForm, ToggleForm
from compliance.reviews import services as reviews

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.route("/")
@require(Permission.READ_FEEDS)
def sources() -> ResponseReturnValue:
    """Every feed source with its status, last error, backoff and flag."""
    problems = request.args.get("problems") == "1"
    page = db.paginate(
        services.sources_query(problems_only=problems),
        page=_page(),
        per_page=current_app.config["PAGE_SIZE"] * 2,
        error_out=False,
    )
    return render_template(
        "feeds/sources.html",
        page=page,
        problems=problems,
        counts=services.source_counts(),
        flagged=services.flagged_sources(),
        now=clock.utcnow(),
        describe_interval=services.describe_interval,
        flag_days=current_app.config["FEEDS_FLAG_AFTER_DAYS"],
    )


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.ADMIN_FEEDS)
def new_source() -> ResponseReturnValue:
    """Add a feed source by URL."""
    form = SourceForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = services.add_source(
                form.url.data or "",
                name=form.name.data or "",
                interval_minutes=form.interval_minutes.data,
                enabled=bool(form.enabled.data),
                actor=current_actor(),
            )
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            flash(
                f"Feed source {created.name} added; the scheduler polls it within a minute.",
                "success",
            )
            return redirect(url_for("feeds.source", source_id=created.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "feeds/new_source.html",
        form=form,
        default_interval=current_app.config["FEEDS_DEFAULT_INTERVAL_MINUTES"],
    ), status


@bp.route("/<int:source_id>")
@require(Permission.READ_FEEDS)
def source(source_id: int) -> ResponseReturnValue:
    """One source: its status and history of failures, settings, and latest entries."""
    found = services.get_source(source_id)
    entries = db.paginate(
        services.entries_query(source_id=found.id),
        page=_page(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    reviewed = {entry.id: reviews.review_for_entry(entry.id) for entry in entries.items}
    return render_template(
        "feeds/source.html",
        source=found,
        entries=entries,
        reviewed=reviewed,
        edit_form=SourceEditForm(obj=found),
        toggle_form=ToggleForm(enabled="no" if found.enabled else "yes"),
        confirm_form=ConfirmForm(),
        now=clock.utcnow(),
        describe_interval=services.describe_interval,
    )


@bp.route("/<int:source_id>/edit", methods=["POST"])
@require(Permission.ADMIN_FEEDS)
def edit_source(source_id: int) -> ResponseReturnValue:
    """Rename a source or change how often it is polled."""
    form = SourceEditForm()
    if not form.validate_on_submit():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        flash(f"Not saved: {problems}", "danger")
        return redirect(url_for("feeds.source", source_id=source_id))
    try:
        services.update_source(
            source_id,
            name=form.name.data,
            interval_minutes=form.interval_minutes.data,
            actor=current_actor(),
        )
    except Invalid as error:
        flash(error.message, "danger")
    else:
        flash("Feed source saved.", "success")
    return redirect(url_for("feeds.source", source_id=source_id))


@bp.route("/<int:source_id>/toggle", methods=["POST"])
@require(Permission.ADMIN_FEEDS)
def toggle_source(source_id: int) -> ResponseReturnValue:
    """Enable or disable polling of a source."""
    form = ToggleForm()
    if not form.validate_on_submit():
        flash("Use the Enable or Disable button on the source's page.", "danger")
        return redirect(url_for("feeds.source", source_id=source_id))
    changed = services.update_source(
        source_id, enabled=form.enabled.data == "yes", actor=current_actor()
    )
    if changed.enabled:
        flash(f"{changed.name} enabled; the scheduler polls it within a minute.", "success")
    else:
        flash(f"{changed.name} disabled; it keeps its entries and reviews.", "info")
    return redirect(url_for("feeds.source", source_id=source_id))


@bp.route("/<int:source_id>/poll", methods=["POST"])
@require(Permission.ADMIN_FEEDS)
def poll_soon(source_id: int) -> ResponseReturnValue:
    """Make a source due now; the scheduler polls it (web workers never fetch feeds)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        found = services.schedule_poll_now(source_id, actor=current_actor())
        flash(f"{found.name} is due now; the scheduler polls it within a minute.", "info")
    return redirect(url_for("feeds.source", source_id=source_id))


@bp.route("/entries/<int:entry_id>")
@require(Permission.READ_REVIEWS)
def entry(entry_id: int) -> ResponseReturnValue:
    """One feed entry: its sanitised content, its matches and every revision as a diff."""
    found = services.get_entry(entry_id)
    return render_template(
        "feeds/entry.html",
        entry=found,
        review=reviews.review_for_entry(found.id),
        diffs=services.revision_diffs(found),
        promote_form=ConfirmForm(),
        threshold=current_app.config["FEEDS_MATCH_THRESHOLD"],
    )
