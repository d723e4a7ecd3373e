"""JSON endpoints under /api/v1: thin callers of the catalogue, mapping and profile services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, request, url_for
from flask.typing import ResponseReturnValue

from compliance.api import inputs, serializers
from compliance.api.auth import api_require, forbidden, visible_team
from compliance.api.openapi import openapi_document
from compliance.applicability import inputs as profile_inputs
from compliance.applicability import services as applicability
from compliance.applicability.rules import OUTCOMES
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.catalogue import services as catalogue
from compliance.errors import Forbidden, Invalid, NotFound
from compliance.exports import services as exports
from compliance.exports.downloads import attachment
from compliance.exports.rows import ExportFilter
from compliance.extensions import db
from compliance.feeds import inputs as feed_inputs
from compliance.feeds import services as feeds
from compliance.mapping import services as mapping
from compliance.mapping.models import Control
from compliance.reviews import inputs as review_inputs
from compliance.reviews import services as reviews
from compliance.search import services as search_services

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


# -- service profiles (compliance.applicability) ---------------------------------------------


@bp.get("/profiles")
@api_require(Permission.READ_CATALOGUE)
def profiles(user: User) -> ResponseReturnValue:
    paging = _page_args()
    page = db.paginate(
        applicability.profiles_query(),
        page=paging.page,
        per_page=paging.per_page,
        error_out=False,
    )
    return serializers.page_envelope(page, [serializers.profile_dict(p) for p in page])


@bp.post("/profiles")
@api_require(Permission.EDIT_PROFILES)
def create_profile(user: User) -> ResponseReturnValue:
    data = profile_inputs.from_json(_json_body())
    created = applicability.create_profile(data, actor=_actor(user))
    location = url_for("api.profile", profile_id=created.id)
    return serializers.profile_dict(created), 201, {"Location": location}


@bp.get("/profiles/<int:profile_id>")
@api_require(Permission.READ_CATALOGUE)
def profile(user: User, profile_id: int) -> ResponseReturnValue:
    return serializers.profile_dict(applicability.get_profile(profile_id))


@bp.patch("/profiles/<int:profile_id>")
@api_require(Permission.EDIT_PROFILES)
def update_profile(user: User, profile_id: int) -> ResponseReturnValue:
    body = _json_body()
    current = profile_inputs.ProfileInput.of(applicability.get_profile(profile_id))
    data = profile_inputs.from_json(body, current)
    update = applicability.update_profile(profile_id, data, actor=_actor(user))
    return {
        "profile": serializers.profile_dict(update.profile),
        "changes": serializers.changes_dict(update.changes),
    }


@bp.delete("/profiles/<int:profile_id>")
@api_require(Permission.EDIT_PROFILES)
def delete_profile(user: User, profile_id: int) -> ResponseReturnValue:
    applicability.delete_profile(profile_id, actor=_actor(user))
    return "", 204


@bp.get("/profiles/<int:profile_id>/applicability")
@api_require(Permission.READ_CATALOGUE)
def profile_applicability(user: User, profile_id: int) -> ResponseReturnValue:
    outcome = inputs.one_of(request.args, "outcome", OUTCOMES)
    found = applicability.get_profile(profile_id)
    evaluation = applicability.evaluate_profile(found.id)
    items = evaluation.filtered(
        outcome=outcome,
        jurisdiction=(request.args.get("jurisdiction") or "").strip().upper()[:20],
        instrument=(request.args.get("instrument") or "").strip().lower()[:120],
    )
    return serializers.applicability_dict(found, evaluation, items)


@bp.get("/search")
@api_require(Permission.READ_CATALOGUE)
def search(user: User) -> ResponseReturnValue:
    """Full-text search; a manager's results hold only their own team's controls, and no role
    finds reviews or feed entries it may not read."""
    wanted = search_services.SearchRequest.from_args(
        request.args, per_page=current_app.config["PAGE_SIZE"]
    )
    results = search_services.search(
        wanted, team=visible_team(user), hidden=search_services.hidden_kinds(user.role)
    )
    return {
        "query": wanted.text,
        "searched": results.searched,
        "items": [_search_hit(hit) for hit in results.hits],
        "page": wanted.page,
        "per_page": wanted.per_page,
        "total": results.total,
        "pages": results.pages,
        "facets": {
            name: [
                {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                for v in values
            ]
            for name, values in results.facets.items()
        },
        "notices": results.notices,
        "suggestion": results.suggestion,
        "corrected_from": results.corrected_from,
        "profile": (
            {"id": results.profile.profile_id, "name": results.profile.name}
            if results.profile is not None
            else None
        ),
    }


def _search_hit(hit: Any) -> dict[str, Any]:
    endpoint, values = hit.link(api=True)
    stored = hit.stored
    return {
        "id": hit.doc_id,
        "kind": hit.kind,
        "title": hit.title,
        "ref": hit.ref,
        "context": hit.context,
        "score": hit.score,
        "url": url_for(endpoint, **values),
        "jurisdiction": stored.get("jurisdiction") or None,
        "status": stored.get("status") or None,
        "topics": list(stored.get("topics") or []),
        "highlights": {"title": str(hit.title_html), "summary": str(hit.snippet_html)},
        "applicability": hit.applicability or None,
    }


@bp.get("/exports/mappings")
@api_require(Permission.READ_TEAM_CONTROLS)
def export_mappings(user: User) -> ResponseReturnValue:
    """The control mappings as a file; a manager's hold only their own team's controls."""
    filters = exports.scope_filters(
        ExportFilter.from_args(request.args), role=user.role, team=user.team or ""
    )
    bom = (request.args.get("bom") or "").lower() in ("1", "true", "yes")
    file, exported = exports.export_mappings_file(
        filters, request.args.get("format") or "json", actor=_actor(user), bom=bom
    )
    return attachment(file, exported)


# -- feeds and change reviews (compliance.feeds, compliance.reviews) ---------------------------


@bp.get("/reviews")
@api_require(Permission.READ_REVIEWS)
def reviews_list(user: User) -> ResponseReturnValue:
    filters = reviews.ReviewFilter.from_args(request.args)
    paging = _page_args()
    query = reviews.reviews_query(filters, user_id=user.id)
    page = db.paginate(query, page=paging.page, per_page=paging.per_page, error_out=False)
    return serializers.page_envelope(page, [serializers.review_summary(r) for r in page])


@bp.get("/reviews/<int:review_id>")
@api_require(Permission.READ_REVIEWS)
def review(user: User, review_id: int) -> ResponseReturnValue:
    found = reviews.get_review(review_id)
    return serializers.review_detail(found, reviews.impact(found))


@bp.patch("/reviews/<int:review_id>")
@api_require(Permission.TRIAGE_REVIEWS)
def update_review(user: User, review_id: int) -> ResponseReturnValue:
    """Move, assign, date, decide or annotate a review; refused whole on any bad field."""
    reviews.get_review(review_id)  # a missing review is a 404 before the body is judged
    changes = review_inputs.review_changes(_json_body())
    updated = reviews.update_review(review_id, changes, actor=_actor(user))
    return serializers.review_detail(updated, reviews.impact(updated))


@bp.get("/feeds")
@api_require(Permission.READ_FEEDS)
def feed_sources(user: User) -> ResponseReturnValue:
    paging = _page_args()
    page = db.paginate(
        feeds.sources_query(), page=paging.page, per_page=paging.per_page, error_out=False
    )
    return serializers.page_envelope(page, [serializers.feed_source_dict(s) for s in page])


@bp.post("/feeds")
@api_require(Permission.ADMIN_FEEDS)
def add_feed_source(user: User) -> ResponseReturnValue:
    body = feed_inputs.new_source(_json_body())
    created = feeds.add_source(
        body["url"],
        name=body["name"],
        interval_minutes=body["interval_minutes"],
        enabled=body["enabled"],
        actor=_actor(user),
    )
    location = url_for("api.feed_source", source_id=created.id)
    return serializers.feed_source_dict(created), 201, {"Location": location}


@bp.get("/feeds/<int:source_id>")
@api_require(Permission.READ_FEEDS)
def feed_source(user: User, source_id: int) -> ResponseReturnValue:
    return serializers.feed_source_dict(feeds.get_source(source_id))


@bp.patch("/feeds/<int:source_id>")
@api_require(Permission.ADMIN_FEEDS)
def update_feed_source(user: User, source_id: int) -> ResponseReturnValue:
    feeds.get_source(source_id)
    changes = feed_inputs.source_changes(_json_body())
    updated = feeds.update_source(source_id, actor=_actor(user), **changes)
    return serializers.feed_source_dict(updated)
