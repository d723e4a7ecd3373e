"""The dashboard page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.dashboard import services

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Coverage by jurisdiction and topic, next effective dates, recent catalogue changes."""
    # A manager, who sees only their own team's controls, gets a panel of them.
    team = None if role_can(current_user.role, Permission.READ_ALL_CONTROLS) else current_user.team
    return render_template("dashboard/index.html", board=services.build_dashboard(team=team))
