"""The dashboard page."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.applicability import services as applicability
from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.dashboard import services
from compliance.errors import NotFound

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Coverage by jurisdiction and topic, next effective dates, recent catalogue changes."""
    # A manager, who sees only their own team's controls, gets a panel of them.
    team = None if role_can(current_user.role, Permission.READ_ALL_CONTROLS) else current_user.team
    # ?profile=<id> limits every figure to the obligations that apply to that service.
    profile, obligation_ids = None, None
    profile_id = request.args.get("profile", type=int)
    if profile_id is not None:
        try:
            profile = applicability.get_profile(profile_id)
        except NotFound:
            flash("That service profile no longer exists; showing every obligation.", "warning")
        else:
            obligation_ids = applicability.applicable_obligation_ids(profile.id)
    return render_template(
        "dashboard/index.html",
        board=services.build_dashboard(team=team, obligation_ids=obligation_ids),
        profile=profile,
        profiles=applicability.list_profiles(),
    )
