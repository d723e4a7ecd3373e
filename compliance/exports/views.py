"""Pages to export control mappings and the audit trail, and to import controls and mappings."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.audit.services import AuditFilter
from compliance.auth.access import require
from compliance.auth.roles import Permission, role_can
from compliance.auth.views import current_actor
from compliance.errors import ComplianceError, Forbidden, Invalid
from compliance.exports import services
from compliance.exports.downloads import attachment
from compliance.exports.formats import FORMATS
from compliance.exports.forms import DownloadForm, ImportForm, TrailDownloadForm
from compliance.exports.importer import ImportPlan
from compliance.exports.rows import COLUMNS, ExportFilter
from compliance.exports.schema import standalone_schema
from compliance.mapping.models import MAPPING_STATES

bp = Blueprint("exports", __name__, url_prefix="/exports")


def _scoped(filters: ExportFilter) -> ExportFilter:
    return services.scope_filters(filters, role=current_user.role, team=current_user.team or "")


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.route("/")
@require(Permission.READ_TEAM_CONTROLS)
def index() -> ResponseReturnValue:
    """Filters, a preview of the rows, and a download button per format."""
    team_only = not role_can(current_user.role, Permission.READ_ALL_CONTROLS)
    context: dict[str, Any] = {
        "team_only": team_only,
        "team": current_user.team or "",
        "choices": services.filter_choices(),
        "states": MAPPING_STATES,
        "formats": FORMATS,
        "columns": COLUMNS,
        "form": DownloadForm(),
        "preview": None,
        "filters": ExportFilter(),
    }
    try:
        filters = ExportFilter.from_args(request.args)
        context["filters"] = filters
        if team_only and not current_user.team:
            return render_template("exports/index.html", **context)
        filters = _scoped(filters)
        context["filters"] = filters
        per_page = current_app.config["PAGE_SIZE"]
        context["preview"] = services.preview(filters, page=_page(), per_page=per_page)
        context["per_page"] = per_page
    except Forbidden as error:
        flash(error.message, "danger")
    except Invalid as error:
        flash(error.message, "warning")
    return render_template("exports/index.html", **context)


@bp.route("/mappings", methods=["POST"])
@require(Permission.READ_TEAM_CONTROLS)
def download() -> ResponseReturnValue:
    """The export file in the pressed button's format; the filters come in the query string."""
    form = DownloadForm()
    if not form.validate_on_submit():
        flash("The download was refused: reload the page and press the button again.", "danger")
        return redirect(url_for("exports.index", **_filter_args()))
    try:
        filters = _scoped(ExportFilter.from_args(request.args))
        file, exported = services.export_mappings_file(
            filters, form.format.data or "", actor=current_actor(), bom=bool(form.bom.data)
        )
    except Forbidden:
        raise
    except ComplianceError as error:
        flash(error.message, "warning")
        return redirect(url_for("exports.index", **_filter_args()))
    return attachment(file, exported)


def _filter_args() -> dict[str, Any]:
    names = ("jurisdiction", "instrument", "topic", "owner", "state", "as_of")
    return {name: request.args[name] for name in names if request.args.get(name)}


@bp.route("/schema.json")
@require(Permission.READ_TEAM_CONTROLS)
def json_schema() -> ResponseReturnValue:
    """The JSON Schema of the JSON export."""
    return standalone_schema(url_for("exports.json_schema", _external=True))


@bp.route("/audit-trail", methods=["POST"])
@require(Permission.READ_AUDIT)
def audit_trail() -> ResponseReturnValue:
    """The audit trail as CSV or JSON, with the audit page's filters (in the query string)."""
    form = TrailDownloadForm()
    if not form.validate_on_submit():
        flash("The download was refused: reload the page and press the button again.", "danger")
        return redirect(url_for("audit.index"))
    try:
        filters = AuditFilter.from_args(request.args)
        file, exported = services.export_trail_file(
            filters, form.format.data or "", actor=current_actor()
        )
    except Invalid as error:
        flash(error.message, "warning")
        return redirect(url_for("audit.index"))
    return attachment(file, exported)


@bp.route("/import", methods=["GET", "POST"])
@require(Permission.EDIT_MAPPINGS)
def import_file() -> ResponseReturnValue:
    """Upload a file; a dry run lists what would change, Import applies it all or nothing."""
    if not role_can(current_user.role, Permission.EDIT_CONTROLS):
        abort(403, "Imports create and change controls: your role cannot edit controls.")
    form = ImportForm()
    plan: ImportPlan | None = None
    dry_run = request.form.get("action") != "apply"
    if form.validate_on_submit():
        upload = form.file.data
        try:
            data = services.read_upload(upload.stream)
            name = upload.filename or "upload"
            if form.kind.data == "oscal":
                plan = services.import_oscal_catalog(
                    name,
                    data,
                    prefix=form.prefix.data or "",
                    domain=form.domain.data or "",
                    owner_team=form.owner_team.data or "",
                    status=form.status.data or "",
                    actor=current_actor(),
                    dry_run=dry_run,
                )
            else:
                plan = services.import_table(name, data, actor=current_actor(), dry_run=dry_run)
        except Invalid as error:
            flash(error.message, "danger")
            return render_template("exports/import.html", form=form, problems=error.details), 422
        if not dry_run:
            message = (
                f"Imported {plan.source}: {plan.summary()}."
                if plan.changed
                else (f"{plan.source} matches what is already here: nothing changed.")
            )
            flash(message, "success")
            return redirect(url_for("exports.import_file"))
    return render_template(
        "exports/import.html", form=form, plan=plan, dry_run=dry_run, problems=[]
    )
