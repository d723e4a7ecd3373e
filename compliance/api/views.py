"""JSON endpoints under /api/v1: thin callers of the catalogue and mapping services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, request, url_for
from flask.typing import ResponseReturnValue

from compliance.api import inputs, serializers
from compliance.api.auth import api_require, forbidden, visible_team
from compliance.api.openapi import openapi_document
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.catalogue import services as catalogue
from compliance.errors import Forbidden, Invalid, NotFound
from compliance.extensions import db
from compliance.mapping import services as mapping
from compliance.mapping.models import Control

bp = Blueprint("api", __name__, url_prefix="/api/v1")

T = TypeVar("T")


def _actor(user: User) -> Actor:
    return Actor(user.id, user.email)


def _page_args() -> inputs.Paging:
    return inputs.paging(request.args, current_app.config["PAGE_SIZE"])


def _json_body() -> dict[str, Any]:
    return inputs.json_object(request.mimetype, request.get_data())


def _referenced(find: Callable[[Any], T], field: str, value: object) -> T:
    """A row a request body names; a missing one makes the body invalid (422), not a 404."""
    try:
        return find(value)
    except NotFound as error:
        message = f"{field} {value!r}: {error.message}"
        raise Invalid(message, details=[message]) from error


def _check_team(user: User, control: Control) -> None:
    team = visible_team(user)
    if team is not None and control.owner_team != team:
        raise Forbidden(
            f"Your role ({user.role}) may only see controls owned by your team "
            f"({team or 'none set'})."
        )


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API; public, like any published interface."""
    return openapi_document()


@bp.get("/regulations")
@api_require(Permission.READ_CATALOGUE)
def regulations(user: User) -> ResponseReturnValue:
    filters = catalogue.CatalogueFilter.from_args(request.args)
    paging = _page_args()
    try:
        query = catalogue.regulations_query(filters)
    except NotFound as error:  # an unknown jurisdiction code is a bad filter, not a lost page
        raise Invalid(error.message, details=[f"jurisdiction: {error.message}"]) from error
    page = db.paginate(query, page=paging.page, per_page=paging.per_page, error_out=False)
    return serializers.page_envelope(page, [serializers.regulation_summary(r) for r in page])


@bp.get("/regulations/<slug>")
@api_require(Permission.READ_CATALOGUE)
def regulation(user: User, slug: str) -> ResponseReturnValue:
    return serializers.regulation_detail(catalogue.get_regulation(slug))


@bp.get("/obligations/<int:obligation_id>")
@api_require(Permission.READ_CATALOGUE)
def obligation(user: User, obligation_id: int) -> ResponseReturnValue:
    found = catalogue.get_obligation(obligation_id)
    return serializers.obligation_detail(found, team=visible_team(user))


@bp.get("/controls")
@api_require(Permission.READ_TEAM_CONTROLS)
def controls(user: User) -> ResponseReturnValue:
    asked = (request.args.get("team") or "").strip()
    team = visible_team(user)
    if team is not None and asked and asked != team:
        raise Forbidden(f"Your role ({user.role}) may only list your own team's controls.")
    filters = inputs.control_filters(request.args)
    paging = _page_args()
    query = mapping.controls_query(
        team=team if team is not None else asked or None,
        domain=filters.domain,
        status=filters.status,
        text=filters.text,
    )
    page = db.paginate(query, page=paging.page, per_page=paging.per_page, error_out=False)
    return serializers.page_envelope(page, [serializers.control_summary(c) for c in page])


@bp.get("/controls/<int:control_id>")
@api_require(Permission.READ_TEAM_CONTROLS)
def control(user: User, control_id: int) -> ResponseReturnValue:
    found = mapping.get_control(control_id)
    _check_team(user, found)
    return serializers.control_detail(found)


@bp.get("/mappings/<int:mapping_id>")
@api_require(Permission.READ_TEAM_CONTROLS)
def mapping_detail(user: User, mapping_id: int) -> ResponseReturnValue:
    found = mapping.get_mapping(mapping_id)
    _check_team(user, found.control)
    return serializers.mapping_dict(found)


@bp.post("/mappings")
@api_require(Permission.EDIT_MAPPINGS)
def create_mapping(user: User) -> ResponseReturnValue:
    body = inputs.new_mapping(_json_body())
    obligation = _referenced(catalogue.get_obligation, "obligation_id", body["obligation_id"])
    if "control_code" in body:
        found = _referenced(mapping.get_control_by_code, "control_code", body["control_code"])
    else:
        found = _referenced(mapping.get_control, "control_id", body["control_id"])
    created = mapping.map_control(
        obligation.id, found.id, inputs.mapping_input(body), actor=_actor(user)
    )
    location = url_for("api.mapping_detail", mapping_id=created.id)
    return serializers.mapping_dict(created), 201, {"Location": location}


@bp.patch("/mappings/<int:mapping_id>")
@api_require(Permission.EDIT_MAPPINGS)
def update_mapping(user: User, mapping_id: int) -> ResponseReturnValue:
    changes = inputs.mapping_changes(_json_body())
    state = changes.pop("state", None)
    # Checked before anything is written, so a refused request changes nothing.
    if state is not None and not role_can(user.role, Permission.APPROVE_MAPPINGS):
        return forbidden(user, Permission.APPROVE_MAPPINGS)
    current = mapping.get_mapping(mapping_id)
    if changes:
        data = inputs.mapping_input(changes, current=current)
        current = mapping.update_mapping(mapping_id, data, actor=_actor(user))
    if state is not None:
        current = mapping.set_mapping_state(mapping_id, state, actor=_actor(user))
    return serializers.mapping_dict(current)


@bp.delete("/mappings/<int:mapping_id>")
@api_require(Permission.EDIT_MAPPINGS)
def delete_mapping(user: User, mapping_id: int) -> ResponseReturnValue:
    mapping.delete_mapping(mapping_id, actor=_actor(user))
    return "", 204
