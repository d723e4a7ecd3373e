"""Who may open what: the login manager, the first-run gate and the permission decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.auth import services
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.extensions import db, login_manager

P = ParamSpec("P")
R = TypeVar("R")

# Endpoints reachable before anyone has logged in.
PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.setup",
    "static",
    "bootstrap.static",
    # Signed, single-purpose tokens stand in for a login (compliance.alerts.tokens).
    "alerts.unsubscribe",
    "alerts.calendar",
}


def install_access_rules(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    login_manager.user_loader(load_user)

    @app.before_request
    def require_login() -> ResponseReturnValue | None:
        """Every page needs a logged-in user, except login and first-run set-up.

        The API authenticates with bearer tokens instead (compliance.api.auth).
        """
        endpoint = request.endpoint or ""
        # By path, not endpoint: an unknown /api/ URL has none, yet must get a JSON 404.
        if request.path.startswith("/api/") or endpoint in PUBLIC_ENDPOINTS:
            return None
        if not _has_users(app):
            return redirect(url_for("auth.setup"))
        if not current_user.is_authenticated:
            response: ResponseReturnValue = login_manager.unauthorized()
            return response
        return None

    @app.context_processor
    def permissions() -> dict[str, object]:
        def can(permission: str) -> bool:
            return current_user.is_authenticated and role_can(
                current_user.role, Permission(permission)
            )

        return {"can": can, "Permission": Permission}


def _has_users(app: Flask) -> bool:
    # Once an account exists it stays so (accounts are deactivated, never deleted): cache it.
    state = app.extensions.setdefault("compliance.auth", {})
    if not state.get("has_users"):
        state["has_users"] = services.has_users()
    return bool(state["has_users"])


def require(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Refuse the view with 403 unless the logged-in user's role grants permission."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current_user.is_authenticated:
                abort(401)
            if not role_can(current_user.role, permission):
                abort(403, f"Your role ({current_user.role}) does not allow this.")
            return view(*args, **kwargs)

        guarded.required_permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate
