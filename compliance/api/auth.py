"""Bearer-token authentication and per-view permissions for the JSON API (RFC 6750)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from flask import request
from flask.typing import ResponseReturnValue

from compliance.auth import services
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.errors import json_error

P = ParamSpec("P")
ApiView = Callable[Concatenate[User, P], ResponseReturnValue]

REALM = "compliance"


def _challenge(error: str = "", description: str = "") -> dict[str, str]:
    # RFC 6750 section 3: no error attribute when the request carried no credentials at all.
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def _bearer_token() -> str | None:
    """The token of an `Authorization: Bearer` header; "" when the header is malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # no header, or another scheme: the request is simply unauthenticated
    token = token.strip()
    return "" if not token or " " in token else token


def authenticate() -> User | ResponseReturnValue:
    """The user behind the request's bearer token, or the error response to send instead.

    Session cookies are never consulted: a browser's login must not be usable cross-site.
    """
    token = _bearer_token()
    if token is None:
        return json_error(
            401,
            "Authentication required: send an API token as 'Authorization: Bearer <token>'.",
            headers=_challenge(),
        )
    if not token:
        return json_error(
            400,
            "The Authorization header must be 'Bearer <token>'.",
            headers=_challenge("invalid_request", "Malformed Authorization header"),
        )
    user = services.user_for_token(token)
    if user is None:
        return json_error(
            401,
            "The API token is unknown, expired or revoked.",
            headers=_challenge("invalid_token", "The token is unknown, expired or revoked"),
        )
    return user


def forbidden(user: User, permission: Permission) -> ResponseReturnValue:
    """The 403 response for a role that lacks permission."""
    return json_error(
        403,
        f"Your role ({user.role}) does not allow this ({permission.value}).",
        headers=_challenge("insufficient_scope"),
    )


def api_require(permission: Permission) -> Callable[[ApiView[P]], Callable[P, ResponseReturnValue]]:
    """Authenticate by bearer token, refuse roles lacking permission, pass the user in first."""

    def decorate(view: ApiView[P]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            user = authenticate()
            if not isinstance(user, User):
                return user
            for needed in (Permission.USE_API, permission):
                if not role_can(user.role, needed):
                    return forbidden(user, needed)
            return view(user, *args, **kwargs)

        guarded.required_permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate


def visible_team(user: User) -> str | None:
    """The one owner team whose controls user may see, or None when they may see all."""
    return None if role_can(user.role, Permission.READ_ALL_CONTROLS) else user.team
