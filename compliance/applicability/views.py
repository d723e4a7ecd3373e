"""Pages for service profiles, what applies to each, the answers and the register."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_sqlalchemy.pagination import Pagination

from compliance.applicability import register, services
from compliance.applicability.evaluation import OUTCOME_CHOICES, Question
from compliance.applicability.forms import KIND_HELP, AnswersForm, ConfirmForm, ProfileForm
from compliance.applicability.inputs import ProfileInput
from compliance.applicability.rules import OUTCOME_LABELS
from compliance.applicability.vocabulary import (
    CHILD_ACCESS_LABELS,
    FEATURE_LABELS,
    KIND_LABELS,
    SIZE_LABELS,
)
from compliance.auth.access import require
from compliance.auth.roles import Permission
from compliance.auth.views import current_actor
from compliance.errors import Conflict, Invalid

bp = Blueprint("applicability", __name__, url_prefix="/applicability")

LABELS = {
    "kinds": KIND_LABELS,
    "features": FEATURE_LABELS,
    "child_access": CHILD_ACCESS_LABELS,
    "sizes": SIZE_LABELS,
    "outcomes": OUTCOME_LABELS,
}


class ListPage(Pagination):
    """Pages over a list already in memory (an evaluation), for the pager macro."""

    def _query_items(self) -> list[Any]:
        start = (self.page - 1) * self.per_page
        return list(self._query_args["items"][start : start + self.per_page])

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _question_id(text: str) -> str:
    # A stable field name per question: the text itself is too long for a form field name.
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Every profile with how many obligations apply to it."""
    return render_template(
        "applicability/index.html",
        profiles=services.list_profiles(),
        tallies=services.profile_tallies(),
        labels=LABELS,
    )


@bp.route("/profiles/new", methods=["GET", "POST"])
@require(Permission.EDIT_PROFILES)
def new_profile() -> ResponseReturnValue:
    """Describe a service: kinds, where it is offered, users, children, features, size."""
    form = ProfileForm()
    form.set_jurisdictions(services.jurisdiction_choices())
    status = 200
    if form.validate_on_submit():
        try:
            created = services.create_profile(form.to_input(), actor=current_actor())
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            tally = services.evaluate_profile(created.id).tally()
            flash(
                f"Profile {created.name} saved: {tally.applies} obligations apply, "
                f"{tally.needs_judgement} need judgement.",
                "success",
            )
            return redirect(url_for("applicability.profile", profile_id=created.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "applicability/form.html", form=form, profile=None, kind_help=KIND_HELP
    ), status


@bp.route("/profiles/<int:profile_id>")
@require(Permission.READ_CATALOGUE)
def profile(profile_id: int) -> ResponseReturnValue:
    """What applies to the profile, what does not and what needs judgement, and why."""
    found = services.get_profile(profile_id)
    evaluation = services.evaluate_profile(found.id)
    territory = services.territory()
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in OUTCOME_LABELS else ""
    jurisdiction = request.args.get("jurisdiction", "").strip().upper()[:20]
    instrument = request.args.get("instrument", "").strip().lower()[:120]
    items = evaluation.filtered(outcome=outcome, jurisdiction=jurisdiction, instrument=instrument)
    page = ListPage(
        page=_page(), per_page=current_app.config["PAGE_SIZE"], error_out=False, items=items
    )
    questions = evaluation.questions()
    return render_template(
        "applicability/profile.html",
        profile=found,
        evaluation=evaluation,
        tally=evaluation.tally(),
        by_jurisdiction=evaluation.by_jurisdiction(dict(territory.names)),
        by_instrument=evaluation.by_instrument(),
        page=page,
        filters={"outcome": outcome, "jurisdiction": jurisdiction, "instrument": instrument},
        outcome_choices=OUTCOME_CHOICES,
        open_questions=sum(1 for q in questions if q.answer is None),
        history=services.profile_history(found.id),
        formats=list(register.FORMATS),
        labels=LABELS,
        place=territory.place,
    )


@bp.route("/profiles/<int:profile_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_PROFILES)
def edit_profile(profile_id: int) -> ResponseReturnValue:
    """Change a profile's facts; then show which obligations changed outcome."""
    found = services.get_profile(profile_id)
    current = ProfileInput.of(found)
    form = ProfileForm()
    form.set_jurisdictions(services.jurisdiction_choices())
    if request.method == "GET":
        form.fill(current)
    status = 200
    if form.validate_on_submit():
        try:
            update = services.update_profile(
                found.id, form.to_input(dict(current.answers)), actor=current_actor()
            )
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            return _after_update(update)
    elif form.is_submitted():
        status = 422
    return render_template(
        "applicability/form.html", form=form, profile=found, kind_help=KIND_HELP
    ), status


def _after_update(update: services.ProfileUpdate) -> ResponseReturnValue:
    profile_url = url_for("applicability.profile", profile_id=update.profile.id)
    if update.event_id is None:
        flash("Nothing changed.", "info")
        return redirect(profile_url)
    if not update.changes:
        flash("Saved. No obligation changed its outcome.", "success")
        return redirect(profile_url)
    flash("Saved: " + "; ".join(update.changes.summary()) + ".", "success")
    return redirect(
        url_for("applicability.changes", profile_id=update.profile.id, event_id=update.event_id)
    )


@bp.route("/profiles/<int:profile_id>/changes/<int:event_id>")
@require(Permission.READ_CATALOGUE)
def changes(profile_id: int, event_id: int) -> ResponseReturnValue:
    """What one edit of the profile changed: "these 12 obligations now apply"."""
    found = services.get_profile(profile_id)
    event, diff = services.changes_of_event(found.id, event_id)
    return render_template(
        "applicability/changes.html", profile=found, event=event, diff=diff, labels=LABELS
    )


@bp.route("/profiles/<int:profile_id>/questions")
@require(Permission.READ_CATALOGUE)
def questions(profile_id: int) -> ResponseReturnValue:
    """The judgement questions the catalogue asks of this profile, and the answers so far."""
    found = services.get_profile(profile_id)
    asked = services.evaluate_profile(found.id).questions()
    return render_template(
        "applicability/questions.html",
        profile=found,
        questions=asked,
        question_id=_question_id,
        form=AnswersForm(),
    )


@bp.route("/profiles/<int:profile_id>/questions", methods=["POST"])
@require(Permission.EDIT_PROFILES)
def answer(profile_id: int) -> ResponseReturnValue:
    """Record yes/no answers; each settles every obligation that asks the same question."""
    found = services.get_profile(profile_id)
    back = url_for("applicability.questions", profile_id=found.id)
    form = AnswersForm()
    if not form.validate_on_submit():
        flash("The form expired; please answer again.", "danger")
        return redirect(back)
    answers = _answers_from_form(services.evaluate_profile(found.id).questions())
    if not answers:
        flash("No answer changed.", "info")
        return redirect(back)
    try:
        update = services.answer_questions(found.id, answers, actor=current_actor())
    except Invalid as error:
        flash(error.message, "danger")
        return redirect(back)
    return _after_update(update)


def _answers_from_form(asked: list[Question]) -> dict[str, bool | None]:
    """The answers the form changes: "yes", "no", or "" to clear."""
    values = {"yes": True, "no": False, "": None}
    changed: dict[str, bool | None] = {}
    for question in asked:
        raw = request.form.get(f"answer-{_question_id(question.text)}")
        if raw is None or raw not in values:
            continue
        if values[raw] != question.answer:
            changed[question.text] = values[raw]
    return changed


@bp.route("/profiles/<int:profile_id>/delete", methods=["GET", "POST"])
@require(Permission.EDIT_PROFILES)
def delete_profile(profile_id: int) -> ResponseReturnValue:
    """Ask, then remove a profile; the audit trail keeps what it stated."""
    found = services.get_profile(profile_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = found.name
        services.delete_profile(found.id, actor=current_actor())
        flash(f"Profile {name} deleted. The audit trail keeps what it stated.", "success")
        return redirect(url_for("applicability.index"))
    return render_template("applicability/delete.html", profile=found, form=form)


@bp.route("/profiles/<int:profile_id>/register.<fmt>")
@require(Permission.READ_CATALOGUE)
def statement(profile_id: int, fmt: str) -> ResponseReturnValue:
    """The statement-of-applicability register as CSV, JSON or XLSX."""
    if fmt not in register.FORMATS:
        raise Invalid(f"Unknown format '{fmt}'; choose one of: {', '.join(register.FORMATS)}.")
    document = services.statement_of_applicability(profile_id)
    response = Response(register.render(document, fmt), mimetype=register.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename(fmt)}"'
    return response
