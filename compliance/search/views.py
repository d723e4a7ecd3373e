"""The search results page: hits with highlights, facets to narrow them, paging."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination

from compliance.applicability import services as applicability
from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.errors import Invalid
from compliance.search import services
from compliance.search.query import FILTER_FIELDS

bp = Blueprint("search", __name__, url_prefix="/search")

FACET_TITLES = {
    "kind": "Kind",
    "jurisdiction": "Jurisdiction",
    "level": "Level",
    "topic": "Topic",
    "status": "Status",
    "type": "Instrument type",
}
EXAMPLES = ("age verification UK", "DSA Art. 16", "notice and takedown", "CSAM reporting US")


class ResultPage(Pagination):
    """The pager macro's view of one page of search results."""

    def _query_items(self) -> list[Any]:
        return list(self._query_args["items"])

    def _query_count(self) -> int:
        return int(self._query_args["total"])


def visible_team() -> str | None:
    """The only team whose controls the user may find, or None for every team."""
    if role_can(current_user.role, Permission.READ_ALL_CONTROLS):
        return None
    return str(current_user.team or "")


@bp.route("/")
@require(Permission.READ_CATALOGUE)
def index() -> ResponseReturnValue:
    """Search instruments, obligations, controls, feed entries and reviews; narrow by facet.

    ?profile=<id> limits obligations to those that concern that service profile (an unknown
    profile is a 404, as on the API).
    """
    per_page = current_app.config["PAGE_SIZE"]
    try:
        search_request = services.SearchRequest.from_args(request.args, per_page=per_page)
    except Invalid as error:
        flash(f"{error.message} Those filters were ignored.", "warning")
        search_request = services.SearchRequest(text=request.args.get("q", "")[:2000])
    results = services.search(
        search_request, team=visible_team(), hidden=services.hidden_kinds(current_user.role)
    )
    page = ResultPage(
        page=search_request.page,
        per_page=search_request.per_page,
        error_out=False,
        items=results.hits,
        total=results.total,
    )
    return render_template(
        "search/results.html",
        results=results,
        page=page,
        facet_titles=FACET_TITLES,
        examples=EXAMPLES,
        fields=FILTER_FIELDS,
        profiles=applicability.list_profiles(),
    )
