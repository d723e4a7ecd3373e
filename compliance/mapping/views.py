"""Pages for internal controls, their mappings to obligations, and the gap view."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.applicability import services as applicability
from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.auth.views import current_actor
from compliance.catalogue import services as catalogue
from compliance.clock import today
from compliance.errors import Conflict, Invalid, NotFound
from compliance.extensions import db
from compliance.mapping import services
from compliance.mapping.forms import (
    RELATIONSHIP_HELP,
    ConfirmForm,
    ControlForm,
    MappingForm,
    MappingFromControlForm,
    MappingFromObligationForm,
    NewControlForm,
    RetireForm,
    StateForm,
)
from compliance.mapping.models import CONTROL_DOMAINS, CONTROL_STATUSES, Control, ControlMapping

bp = Blueprint("mapping", __name__)


def _page(name: str = "page") -> int:
    return max(request.args.get(name, 1, type=int) or 1, 1)


def _safe_next(target: str | None, fallback: str) -> str:
    # Only same-site paths: an absolute URL in ?next= would be an open redirect, and browsers
    # read "/\host" as "//host".
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        clean = "\\" not in target and not any(ord(char) < 32 for char in target)
        if clean and not parts.scheme and not parts.netloc:
            return target
    return fallback


def _visible_team() -> str | None:
    """None when the user sees every team's controls, else the one team they may see."""
    if role_can(current_user.role, Permission.READ_ALL_CONTROLS):
        return None
    return str(current_user.team or "")


def _check_visible(control: Control) -> None:
    team = _visible_team()
    if team is not None and (not team or control.owner_team != team):
        abort(403, "Managers see only the controls their own team owns.")


def _obligation_url(obligation_id: int) -> str:
    return url_for("catalogue.obligation", obligation_id=obligation_id)


def _mapping_label(mapping: ControlMapping) -> str:
    obligation = mapping.obligation
    return f"{mapping.control.code} ↔ {obligation.regulation.short_title} {obligation.ref}"


# -- controls ---------------------------------------------------------------------------------


@bp.route("/controls")
@require(Permission.READ_TEAM_CONTROLS)
def controls() -> ResponseReturnValue:
    """Controls, filtered and sorted; managers see only their team's."""
    team = _visible_team()
    args = request.args
    sort = args.get("sort", "code")
    sort = sort if sort in services.CONTROL_SORTS else "code"
    direction = "desc" if args.get("dir") == "desc" else "asc"
    owner = args.get("owner", "").strip() if team is None else team
    domain, status = args.get("domain", "").strip(), args.get("status", "").strip()
    text = args.get("q", "").strip()[:200]
    retired = args.get("retired", "") in ("1", "on", "yes")
    page = None
    if team != "":  # a manager with no team sees nothing until an admin sets it
        query = services.controls_query(
            team=owner or None,
            domain=domain,
            status=status,
            text=text,
            include_retired=retired,
            sort=sort,
            direction=direction,
        )
        per_page = current_app.config["PAGE_SIZE"]
        page = db.paginate(query, page=_page(), per_page=per_page, error_out=False)
    items = page.items if page is not None else []
    on = today()
    return render_template(
        "mapping/controls.html",
        page=page,
        team=team,
        filters={"owner": owner, "domain": domain, "status": status, "q": text, "retired": retired},
        filtered=bool(domain or status or text),
        teams=services.owner_teams() if team is None else [],
        domains=CONTROL_DOMAINS,
        statuses=CONTROL_STATUSES,
        served=services.served_counts([control.id for control in items]),
        due={control.id: services.review_due(control, on) for control in items},
        sort=sort,
        direction=direction,
    )


@bp.route("/controls/<int:control_id>")
@require(Permission.READ_TEAM_CONTROLS)
def control(control_id: int) -> ResponseReturnValue:
    """One control and the obligations it serves."""
    found = services.get_control(control_id)
    _check_visible(found)
    return render_template(
        "mapping/control.html",
        control=found,
        mappings=services.control_mappings(found.id),
        review_due=services.review_due(found, today()),
        retire_form=RetireForm(),
    )


@bp.route("/controls/new", methods=["GET", "POST"])
@require(Permission.EDIT_CONTROLS)
def new_control() -> ResponseReturnValue:
    """Add an internal control."""
    form = NewControlForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = services.create_control_with_evidence(
                form.to_input(form.code.data or ""),
                evidence_links=form.evidence_links.data or [],
                actor=current_actor(),
            )
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            flash(
                f"Control {created.code} created. Next: map it to the obligations it serves.",
                "success",
            )
            return redirect(url_for("mapping.control", control_id=created.id))
    teams = services.owner_teams()
    return render_template(
        "mapping/control_form.html", form=form, control=None, teams=teams
    ), status


@bp.route("/controls/<int:control_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_CONTROLS)
def edit_control(control_id: int) -> ResponseReturnValue:
    """Change a control's fields (its code stays)."""
    found = services.get_control(control_id)
    form = ControlForm(obj=found)
    status = 200
    if form.validate_on_submit():
        try:
            services.update_control_with_evidence(
                found.id,
                form.to_input(found.code),
                evidence_links=form.evidence_links.data or [],
                actor=current_actor(),
            )
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            flash(f"Control {found.code} saved.", "success")
            return redirect(url_for("mapping.control", control_id=found.id))
    teams = services.owner_teams()
    return render_template(
        "mapping/control_form.html", form=form, control=found, teams=teams
    ), status


@bp.route("/controls/<int:control_id>/retire", methods=["POST"])
@require(Permission.EDIT_CONTROLS)
def retire_control(control_id: int) -> ResponseReturnValue:
    """Retire a control (kept, flagged, with its mappings) or restore it."""
    form = RetireForm()
    if not form.validate_on_submit():
        flash("Use the Retire or Restore button on the control's page.", "danger")
        return redirect(url_for("mapping.control", control_id=control_id))
    changed = services.set_control_retired(
        control_id, form.retired.data == "yes", actor=current_actor()
    )
    if changed.retired_at is not None:
        flash(
            f"Control {changed.code} retired. Its mappings are kept; restore it any time.", "info"
        )
    else:
        flash(f"Control {changed.code} restored.", "success")
    return redirect(url_for("mapping.control", control_id=changed.id))


# -- mappings ---------------------------------------------------------------------------------


@bp.route("/obligations/<int:obligation_id>/mappings/new", methods=["GET", "POST"])
@bp.route("/controls/<int:control_id>/mappings/new", methods=["GET", "POST"])
@require(Permission.EDIT_MAPPINGS)
def new_mapping(
    obligation_id: int | None = None, control_id: int | None = None
) -> ResponseReturnValue:
    """Map a control to an obligation, starting from either side."""
    if obligation_id is not None:
        obligation = catalogue.get_obligation(obligation_id)
        if obligation.retired_at is not None:
            flash("This obligation is retired: it takes no new mappings.", "warning")
            return redirect(_obligation_url(obligation.id))
        choose_control = MappingFromObligationForm()
        choose_control.set_controls(services.live_controls())
        form: MappingForm = choose_control
        context: dict[str, object] = {"obligation": obligation, "control": None}
        fallback = _obligation_url(obligation.id)
    else:
        assert control_id is not None  # the second route always passes it
        chosen = services.get_control(control_id)
        if chosen.retired_at is not None:
            flash("This control is retired: restore it before mapping it.", "warning")
            return redirect(url_for("mapping.control", control_id=chosen.id))
        choose_obligation = MappingFromControlForm()
        text = request.args.get("q", "").strip()[:200]
        mapped = {mapping.obligation_id for mapping in chosen.mappings}
        choose_obligation.set_obligations(services.live_obligations(text), mapped)
        form = choose_obligation
        context = {"obligation": None, "control": chosen, "q": text}
        fallback = url_for("mapping.control", control_id=chosen.id)
    target = _safe_next(request.args.get("next"), fallback)
    status = 200
    if form.validate_on_submit():
        pair = _chosen_pair(form, obligation_id, control_id)
        try:
            services.map_control(*pair, form.to_input(), actor=current_actor())
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            flash(
                "Mapping saved as proposed; an officer approves it on the mapping's page.",
                "success",
            )
            return redirect(target)
    return render_template(
        "mapping/new_mapping.html",
        form=form,
        next=target,
        relationship_help=RELATIONSHIP_HELP,
        **context,
    ), status


def _chosen_pair(
    form: MappingForm, obligation_id: int | None, control_id: int | None
) -> tuple[int, int]:
    """(obligation id, control id): one from the URL, the other from the form."""
    if isinstance(form, MappingFromObligationForm):
        return obligation_id or 0, int(form.control_id.data or 0)
    assert isinstance(form, MappingFromControlForm)
    return int(form.obligation_id.data or 0), control_id or 0


@bp.route("/mappings/<int:mapping_id>/edit", methods=["GET", "POST"])
@require(Permission.EDIT_MAPPINGS)
def edit_mapping(mapping_id: int) -> ResponseReturnValue:
    """Change how a control serves an obligation; approve, send back or delete it."""
    mapping = services.get_mapping(mapping_id)
    form = MappingForm(obj=mapping)
    target = _safe_next(
        request.args.get("next"), url_for("mapping.control", control_id=mapping.control_id)
    )
    status = 200
    if form.validate_on_submit():
        was_approved = mapping.state == "approved"
        try:
            saved = services.update_mapping(mapping.id, form.to_input(), actor=current_actor())
        except (Conflict, Invalid) as error:
            flash(error.message, "danger")
            status = error.status_code
        else:
            message = "Mapping saved."
            if was_approved and saved.state == "proposed":
                message += " It was approved; the change sends it back to proposed for approval."
            flash(message, "success")
            return redirect(target)
    return render_template(
        "mapping/edit_mapping.html",
        form=form,
        mapping=mapping,
        next=target,
        state_form=StateForm(),
        relationship_help=RELATIONSHIP_HELP,
    ), status


@bp.route("/mappings/<int:mapping_id>/state", methods=["POST"])
@require(Permission.APPROVE_MAPPINGS)
def set_state(mapping_id: int) -> ResponseReturnValue:
    """Approve a mapping, or send it back to proposed."""
    form = StateForm()
    back = url_for(
        "mapping.edit_mapping",
        mapping_id=mapping_id,
        next=_safe_next(request.args.get("next"), "") or None,
    )
    if not form.validate_on_submit():
        flash("Use the Approve or Send back button on the mapping's page.", "danger")
        return redirect(back)
    mapping = services.set_mapping_state(mapping_id, form.state.data, actor=current_actor())
    if mapping.state == "approved":
        flash(f"Mapping {_mapping_label(mapping)} approved.", "success")
    else:
        flash(f"Mapping {_mapping_label(mapping)} sent back to proposed.", "info")
    return redirect(back)


@bp.route("/mappings/<int:mapping_id>/delete", methods=["GET", "POST"])
@require(Permission.EDIT_MAPPINGS)
def delete_mapping(mapping_id: int) -> ResponseReturnValue:
    """Ask, then remove a mapping; the audit trail keeps what it was."""
    mapping = services.get_mapping(mapping_id)
    form = ConfirmForm()
    target = _safe_next(
        request.args.get("next"), url_for("mapping.control", control_id=mapping.control_id)
    )
    if form.validate_on_submit():
        label = _mapping_label(mapping)  # the row is gone after the delete
        services.delete_mapping(mapping.id, actor=current_actor())
        flash(f"Mapping {label} deleted. The audit trail keeps a record of it.", "success")
        return redirect(target)
    return render_template("mapping/delete_mapping.html", mapping=mapping, form=form, next=target)


# -- gaps -------------------------------------------------------------------------------------


@bp.route("/gaps")
@require(Permission.READ_CATALOGUE)
def gaps() -> ResponseReturnValue:
    """Obligations no control serves, and controls that serve no obligation."""
    jurisdiction = request.args.get("jurisdiction", "").strip().upper()[:20]
    # ?profile=<id>: only the obligations that apply to that service profile.
    profile, applicable = None, None
    profile_id = request.args.get("profile", type=int)
    if profile_id is not None:
        try:
            profile = applicability.get_profile(profile_id)
        except NotFound:
            flash("That service profile no longer exists; showing every obligation.", "warning")
        else:
            applicable = applicability.applicable_obligation_ids(profile.id)
    try:
        obligation_query = services.obligation_gaps_query(jurisdiction, obligation_ids=applicable)
    except NotFound as error:
        flash(f"{error.message} Showing every jurisdiction.", "warning")
        jurisdiction = ""
        obligation_query = services.obligation_gaps_query(obligation_ids=applicable)
    per_page = current_app.config["PAGE_SIZE"]
    obligations = db.paginate(
        obligation_query, page=_page("opage"), per_page=per_page, error_out=False
    )
    team = _visible_team()
    orphans = None
    if team != "":  # a manager with no team has no controls to list
        orphans = db.paginate(
            services.orphan_controls_of(team),
            page=_page("cpage"),
            per_page=per_page,
            error_out=False,
        )
    return render_template(
        "mapping/gaps.html",
        obligations=obligations,
        orphans=orphans,
        team=team,
        jurisdiction=jurisdiction,
        jurisdictions=catalogue.facet_choices()["jurisdiction"],
        profile=profile,
        profiles=applicability.list_profiles(),
    )
