"""Exports of mappings and of the audit trail, each recorded in the trail with its SHA-256."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import select

from compliance.audit.services import Actor, AuditFilter, record, verify_chain
from compliance.auth.roles import Permission, role_can
from compliance.catalogue.models import Jurisdiction, Regulation, Topic
from compliance.clock import utcnow
from compliance.database import begin_write
from compliance.errors import Forbidden, Invalid
from compliance.exports import formats, oscal, trail
from compliance.exports.formats import ExportContext, ExportSummary
from compliance.exports.rows import Export, ExportFilter, MappingRow
from compliance.extensions import db
from compliance.mapping.models import Control

TRAIL_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class HashingWriter(io.RawIOBase):
    """A write-only stream that passes bytes on while counting them and hashing them."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.target.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)
        return len(chunk)

    def hexdigest(self) -> str:
        return self.hash.hexdigest()

    def as_io(self) -> IO[bytes]:
        """This writer typed as the binary stream the writers take (it is one, write-only)."""
        return cast(IO[bytes], self)


@dataclass(frozen=True)
class ExportRecord:
    """A written export: what the trail records of it."""

    format: str
    filename: str
    media_type: str
    sha256: str
    size: int
    summary: ExportSummary


def scope_filters(filters: ExportFilter, *, role: str, team: str) -> ExportFilter:
    """The filters a user may export: a manager only their own team's controls."""
    if role_can(role, Permission.READ_ALL_CONTROLS):
        return filters
    if not team:
        raise Forbidden(
            "Your account has no team, and your role exports only your team's controls. "
            "Ask an administrator to set your team."
        )
    if filters.owner and filters.owner != team:
        raise Forbidden(f"Your role ({role}) may only export controls owned by your team ({team}).")
    return ExportFilter(**{**filters.__dict__, "owner": team})


def export_context(actor: Actor, *, bom: bool = False) -> ExportContext:
    return ExportContext(generated_at=utcnow(), generated_by=actor.label, bom=bom)


def dated_filename(stem: str, day: date, extension: str) -> str:
    return f"{stem}-{day.isoformat()}.{extension}"


def _write(
    exporter: formats.Exporter, export: Export, stream: IO[bytes], context: ExportContext
) -> tuple[ExportSummary, HashingWriter]:
    hashing = HashingWriter(stream)
    try:
        summary = exporter.write(export, hashing.as_io(), context)
    except oscal.OscalProblem as error:
        raise Invalid(f"The OSCAL export failed the app's own checks: {error}.") from error
    return summary, hashing


def record_export(
    actor: Actor, action: str, label: str, entity_id: str, summary: str, after: dict[str, Any]
) -> None:
    begin_write()
    record(actor, action, "export", entity_id, summary=f"{label}: {summary}", after=after)
    db.session.commit()


def write_mappings(
    filters: ExportFilter, fmt: str, stream: IO[bytes], *, actor: Actor, bom: bool = False
) -> ExportRecord:
    """Write the mappings matching filters in format fmt to stream, and record the export."""
    exporter = formats.get_exporter(fmt)
    export = Export(filters)
    context = export_context(actor, bom=bom)
    summary, hashing = _write(exporter, export, stream, context)
    day = filters.as_of or context.generated_at.date()
    exported = ExportRecord(
        exporter.name,
        dated_filename("mappings", day, exporter.extension),
        exporter.media_type,
        hashing.hexdigest(),
        hashing.size,
        summary,
    )
    record_export(
        actor,
        "export.mappings",
        f"{exporter.label} export",
        exported.sha256,
        f"{summary.mappings} mappings ({filters.describe()})",
        {
            "format": exporter.name,
            "filters": filters.as_args(),
            "mappings": summary.mappings,
            "unmapped_obligations": summary.unmapped,
            "rows_sha256": summary.rows_sha256,
            "file_sha256": exported.sha256,
            "bytes": exported.size,
        },
    )
    return exported


def export_mappings_file(
    filters: ExportFilter, fmt: str, *, actor: Actor, bom: bool = False
) -> tuple[IO[bytes], ExportRecord]:
    """The export in a temporary file, rewound; the caller closes it (it vanishes then)."""
    file = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the caller, who closes it)
    try:
        exported = write_mappings(filters, fmt, file, actor=actor, bom=bom)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file, exported


def write_oscal_folder(filters: ExportFilter, folder: Path, *, actor: Actor) -> dict[str, str]:
    """Write the three OSCAL documents into folder; return each file's SHA-256 by name."""
    folder.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, HashingWriter] = {}

    @contextmanager
    def open_file(name: str) -> Iterator[IO[bytes]]:
        with (folder / name).open("wb") as file:
            hashes[name] = HashingWriter(file)
            yield hashes[name].as_io()

    export = Export(filters)
    try:
        summary = formats.write_oscal_documents(export, open_file, export_context(actor))
    except oscal.OscalProblem as error:
        raise Invalid(f"The OSCAL export failed the app's own checks: {error}.") from error
    files = {name: writer.hexdigest() for name, writer in hashes.items()}
    record_export(
        actor,
        "export.mappings",
        "OSCAL 1.2.3 export",
        files[oscal.MAPPING_COLLECTION],
        f"{summary.mappings} mappings ({filters.describe()})",
        {
            "format": "oscal",
            "filters": filters.as_args(),
            "mappings": summary.mappings,
            "unmapped_obligations": summary.unmapped,
            "rows_sha256": summary.rows_sha256,
            "files": files,
        },
    )
    return files


# -- the audit trail -------------------------------------------------------------------------


def write_trail(
    filters: AuditFilter, fmt: str, stream: IO[bytes], *, actor: Actor, bom: bool = False
) -> ExportRecord:
    """Write the audit events matching filters (oldest first) as CSV or JSON; record it."""
    if fmt not in TRAIL_FORMATS:
        message = f"format must be one of: {', '.join(TRAIL_FORMATS)}"
        raise Invalid(f"Unknown format '{fmt[:20]}': {message}.", details=[message])
    hashing = HashingWriter(stream)
    generated_at = utcnow()
    if fmt == "csv":
        count = trail.write_trail_csv(filters, hashing.as_io(), bom=bom)
    else:
        count = trail.write_trail_json(
            filters, hashing.as_io(), generated_at=generated_at, chain=verify_chain()
        )
    exported = ExportRecord(
        fmt,
        dated_filename("audit-trail", generated_at.date(), fmt),
        TRAIL_FORMATS[fmt],
        hashing.hexdigest(),
        hashing.size,
        ExportSummary(count, 0, ""),
    )
    scope = ", ".join(f"{k} {v}" for k, v in filters.as_args().items()) or "every event"
    record_export(
        actor,
        "export.audit_trail",
        f"Audit trail {fmt.upper()} export",
        exported.sha256,
        f"{count} events ({scope})",
        {
            "format": fmt,
            "filters": filters.as_args(),
            "events": count,
            "file_sha256": exported.sha256,
        },
    )
    return exported


def export_trail_file(
    filters: AuditFilter, fmt: str, *, actor: Actor
) -> tuple[IO[bytes], ExportRecord]:
    """The trail export in a temporary file, rewound; the caller closes it."""
    file = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the caller, who closes it)
    try:
        exported = write_trail(filters, fmt, file, actor=actor)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file, exported


# -- reads for the exports page --------------------------------------------------------------


@dataclass(frozen=True)
class ExportPreview:
    total: int
    rows: list[MappingRow]
    unmapped: int


def preview(filters: ExportFilter, *, page: int, per_page: int) -> ExportPreview:
    """The rows an export would hold, one page of them, and how many there are."""
    export = Export(filters)
    rows = export.preview(offset=(page - 1) * per_page, limit=per_page)
    unmapped = sum(1 for _ in export.unmapped())
    return ExportPreview(export.count(), rows, unmapped)


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """Values for the filter menus: (value, label)."""
    jurisdictions = db.session.execute(
        select(Jurisdiction.code, Jurisdiction.name).order_by(Jurisdiction.code)
    )
    instruments = db.session.execute(
        select(Regulation.slug, Regulation.short_title, Jurisdiction.code)
        .join(Jurisdiction, Jurisdiction.id == Regulation.jurisdiction_id)
        .order_by(Jurisdiction.code, Regulation.short_title)
    )
    topics = db.session.execute(select(Topic.slug, Topic.name).order_by(Topic.name))
    owners = db.session.scalars(select(Control.owner_team).distinct().order_by(Control.owner_team))
    return {
        "jurisdiction": [(code, f"{code} · {name}") for code, name in jurisdictions],
        "instrument": [(slug, f"{code} · {title}") for slug, title, code in instruments],
        "topic": [(slug, name) for slug, name in topics],
        "owner": [(team, team) for team in owners],
    }


# -- checking exported OSCAL -----------------------------------------------------------------


def check_oscal(path: Path) -> dict[str, list[str]]:
    """Problems of each exported OSCAL document in a folder or zip: the OSCAL 1.2.3 JSON
    Schema, then the app's own rules (relationship values, unique ids, id-refs that resolve)."""
    documents: dict[str, Any] = {}
    try:
        if path.is_dir():
            for name in oscal.DOCUMENTS:
                if (path / name).is_file():
                    documents[name] = json.loads((path / name).read_text(encoding="utf-8"))
        else:
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.rsplit("/", 1)[-1] in oscal.DOCUMENTS:
                        documents[name.rsplit("/", 1)[-1]] = json.loads(archive.read(name))
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise Invalid(f"Cannot read the OSCAL documents at {path}: {error}.") from error
    missing = [name for name in oscal.DOCUMENTS if name not in documents]
    if missing:
        raise Invalid(f"{path} lacks {', '.join(missing)}.")
    schemas = {
        oscal.LAW_CATALOG: "oscal_catalog_schema.json",
        oscal.CONTROLS_CATALOG: "oscal_catalog_schema.json",
        oscal.MAPPING_COLLECTION: "oscal_mapping_schema.json",
    }
    results = {
        name: oscal.schema_problems(documents[name], oscal.load_schema(oscal.SCHEMA_DIR / schema))
        for name, schema in schemas.items()
    }
    law, controls = documents[oscal.LAW_CATALOG], documents[oscal.CONTROLS_CATALOG]
    if not results[oscal.LAW_CATALOG] and not results[oscal.CONTROLS_CATALOG]:
        results[oscal.LAW_CATALOG] += oscal.id_problems(law)
        results[oscal.CONTROLS_CATALOG] += oscal.id_problems(controls)
        if not results[oscal.MAPPING_COLLECTION]:
            results[oscal.MAPPING_COLLECTION] += oscal.mapping_problems(
                documents[oscal.MAPPING_COLLECTION], law, controls
            )
    return results
