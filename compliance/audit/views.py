"""The audit trail page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from compliance.audit import services
from compliance.audit.services import AuditFilter
from compliance.auth.access import require
from compliance.auth.roles import Permission
from compliance.errors import Invalid
from compliance.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/")
@require(Permission.READ_AUDIT)
def index() -> ResponseReturnValue:
    """Every recorded change, newest first; the hash chain is checked only when asked."""
    if request.args.get("verify") == "1":
        return _verify()
    try:
        filters = AuditFilter.from_args(request.args)
    except Invalid as error:
        flash(error.message, "warning")
        filters = AuditFilter()
    page = db.paginate(
        services.events_query(filters),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "audit/index.html", page=page, filters=filters, entity_types=services.entity_types()
    )


def _verify() -> ResponseReturnValue:
    """Check the chain, say the outcome, and go back to the same filters without ?verify.

    Verifying reads every event: the redirect keeps paging and reloads from repeating it.
    """
    report = services.verify_chain()
    events = f"{report.checked} event{'' if report.checked == 1 else 's'}"
    if report.intact:
        flash(f"Chain intact: {events} checked; none was altered or removed.", "success")
    else:
        flash(
            f"Chain broken at event {report.first_broken_id}: {report.reason}. The {events} "
            "before it are intact. Report this to an administrator.",
            "danger",
        )
    # url_for reads "_"-prefixed names as options (_external, _scheme): never pass those on.
    args: dict[str, Any] = {
        k: v for k, v in request.args.items() if k != "verify" and not k.startswith("_")
    }
    return redirect(url_for("audit.index", **args))
