"""The dashboard page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from compliance.auth.access import require
from compliance.auth.roles import Permission

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Coverage by jurisdiction and topic, next effective dates, recent catalogue changes."""
    return render_template("dashboard/index.html")
