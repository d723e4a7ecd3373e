"""Pages for browsing the catalogue: instruments, obligations and the controls serving them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from flask import Blueprint, current_app, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.catalogue import services
from compliance.catalogue.services import CatalogueFilter
from compliance.errors import Invalid, NotFound
from compliance.extensions import db

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


class Listing(NamedTuple):
    filters: CatalogueFilter
    page: Pagination
    sort: str
    direction: str


def _listing(
    build: Callable[..., Select[Any]], sorts: Mapping[str, object], default_sort: str
) -> Listing:
    """Filter, sort and page a list; a bad filter is explained and the full list shown instead."""
    try:
        filters = CatalogueFilter.from_args(request.args)
    except Invalid as error:
        flash(error.message, "warning")
        filters = CatalogueFilter()
    sort = request.args.get("sort", default_sort)
    sort = sort if sort in sorts else default_sort
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    try:
        query = build(filters, sort=sort, direction=direction)
    except NotFound as error:  # an unknown jurisdiction code
        flash(f"{error.message} Showing everything instead.", "warning")
        filters = CatalogueFilter()
        query = build(filters, sort=sort, direction=direction)
    page = db.paginate(
        query,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return Listing(filters, page, sort, direction)


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Browse instruments by jurisdiction, level, topic, status and words."""
    listing = _listing(services.regulations_query, services.REGULATION_SORTS, "jurisdiction")
    return render_template(
        "catalogue/index.html",
        listing=listing,
        facets=services.facet_choices(),
        counts=services.facet_counts("regulations"),
        coverage=services.instrument_coverage([r.id for r in listing.page.items]),
        catalogue_size=services.catalogue_counts()["regulations"],
    )


@bp.route("/obligations")
@require(Permission.READ_CATALOGUE)
def obligations() -> ResponseReturnValue:
    """Every obligation, filtered like the instruments; the navbar search lands here."""
    listing = _listing(services.obligations_query, services.OBLIGATION_SORTS, "regulation")
    return render_template(
        "catalogue/obligations.html",
        listing=listing,
        facets=services.facet_choices(),
        counts=services.facet_counts("obligations"),
        catalogue_size=services.catalogue_counts()["obligations"],
    )


@bp.route("/obligations/<int:obligation_id>")
@require(Permission.READ_CATALOGUE)
def obligation(obligation_id: int) -> ResponseReturnValue:
    """One obligation: what it asks, when it applies, and the controls mapped to it."""
    item = services.get_obligation(obligation_id)
    # Managers see the details of their own team's controls only (compliance/auth/roles.py).
    sees_all = role_can(current_user.role, Permission.READ_ALL_CONTROLS)
    return render_template(
        "catalogue/obligation.html",
        obligation=item,
        conditions=services.describe_applicability(item.applies_when),
        mappings=services.obligation_mappings(item.id),
        visible_team=None if sees_all else current_user.team,
    )


@bp.route("/<slug>")
@require(Permission.READ_CATALOGUE)
def regulation(slug: str) -> ResponseReturnValue:
    """One instrument: its facts, when it applies, and its obligations."""
    item = services.get_regulation(slug)
    return render_template(
        "catalogue/regulation.html",
        regulation=item,
        conditions=services.describe_applicability(item.applies_when),
        coverage=services.instrument_coverage([item.id]).get(item.id),
    )
