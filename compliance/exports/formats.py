"""Export formats: each name maps to an exporter (media type, extension, write(rows, stream)).

Every writer reads the same rows (compliance.exports.rows) once, as a stream, and returns what
it wrote: the counts and the rows' SHA-256, which is the same for every format.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any, NamedTuple

from compliance.errors import Invalid
from compliance.exports import oscal, tabular
from compliance.exports.rows import (
    COLUMNS,
    UNMAPPED_COLUMNS,
    Export,
    RowDigest,
    row_json,
)
from compliance.mapping.models import RELATIONSHIPS

JSON_FORMAT = "compliance-mapping-export"
JSON_SCHEMA_VERSION = "1.0"
# OWASP, CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# C0 controls other than tab, LF and CR (and DEL): XML 1.0, hence XLSX, cannot hold them.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TRUNCATED = " …[truncated]"


@dataclass(frozen=True)
class ExportContext:
    """Facts about one export that its files state."""

    generated_at: datetime
    generated_by: str
    bom: bool = False  # CSV: start with a UTF-8 byte-order mark, for Excel


@dataclass(frozen=True)
class ExportSummary:
    """What a writer wrote."""

    mappings: int
    unmapped: int
    rows_sha256: str


Writer = Callable[[Export, IO[bytes], ExportContext], ExportSummary]


@dataclass(frozen=True)
class Exporter:
    name: str
    label: str
    media_type: str
    extension: str
    write: Writer


# -- cells -----------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Text that no spreadsheet reads as a formula: a leading apostrophe where one could."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def spreadsheet_text(value: Any) -> str:
    """A value as safe spreadsheet text: no formula, no control character, within Excel's size.

    Imports reverse the apostrophe (compliance.exports.importer); the JSON export is the
    lossless one.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    text = _CONTROL_CHARACTERS.sub("\ufffd", str(value))
    text = neutralise(text)
    if len(text) > tabular.MAX_CELL_CHARACTERS:
        text = text[: tabular.MAX_CELL_CHARACTERS - len(TRUNCATED)] + TRUNCATED
    return text


def _spreadsheet_value(value: Any) -> Any:
    """Numbers and dates stay typed in a workbook; text is made safe."""
    if value is None or isinstance(value, int | date):
        return value
    return spreadsheet_text(value)


# -- CSV -------------------------------------------------------------------------------------


def write_csv(export: Export, stream: IO[bytes], context: ExportContext) -> ExportSummary:
    """The mappings as RFC 4180 CSV: UTF-8, CRLF, one header row, quoted where needed."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig" if context.bom else "utf-8", newline="")
    digest = RowDigest()
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in export.mappings():
            digest.add(row)
            writer.writerow([spreadsheet_text(value) for value in row])
        text.flush()
    finally:
        text.detach()  # the caller owns the stream
    return ExportSummary(digest.count, 0, digest.hexdigest())


# -- JSON ------------------------------------------------------------------------------------


def write_json(export: Export, stream: IO[bytes], context: ExportContext) -> ExportSummary:
    """The mappings and unmapped obligations as one JSON document (compliance.exports.schema)."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
    digest = RowDigest()
    unmapped = 0
    try:
        head = {
            "format": JSON_FORMAT,
            "schema_version": JSON_SCHEMA_VERSION,
            "generated_at": context.generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "generated_by": context.generated_by,
            "as_of": export.filters.as_of.isoformat() if export.filters.as_of else None,
            "filters": _filters_json(export),
        }
        text.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "mappings": [')
        for row in export.mappings():
            text.write(("," if digest.count else "") + "\n  ")
            text.write(json.dumps(row_json(row), ensure_ascii=False))
            digest.add(row)
        text.write('\n ],\n "unmapped_obligations": [')
        for obligation in export.unmapped():
            text.write(("," if unmapped else "") + "\n  ")
            text.write(json.dumps(row_json(obligation), ensure_ascii=False))
            unmapped += 1
        summary = {
            "mappings": digest.count,
            "unmapped_obligations": unmapped,
            "rows_sha256": digest.hexdigest(),
        }
        text.write('\n ],\n "summary": ' + json.dumps(summary) + "\n}\n")
        text.flush()
    finally:
        text.detach()
    return ExportSummary(digest.count, unmapped, digest.hexdigest())


def _filters_json(export: Export) -> dict[str, str | None]:
    f = export.filters
    return {
        name: getattr(f, name) or None
        for name in ("jurisdiction", "instrument", "topic", "owner", "state")
    }


# -- XLSX ------------------------------------------------------------------------------------


class _Counted:
    """Rows passed through while counting them and hashing the mapping rows."""

    def __init__(self, rows: Iterator[NamedTuple], digest: RowDigest | None = None) -> None:
        self.rows = rows
        self.digest = digest
        self.count = 0

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self.rows:
            if self.digest is not None:
                self.digest.add(row)
            self.count += 1
            yield [_spreadsheet_value(value) for value in row]


def write_xlsx(export: Export, stream: IO[bytes], context: ExportContext) -> ExportSummary:
    """A workbook: Mappings, Unmapped obligations, and a Metadata sheet (first tab)."""
    digest = RowDigest()
    mappings = _Counted(export.mappings(), digest)
    unmapped = _Counted(export.unmapped())

    def metadata() -> Iterator[list[Any]]:  # read last: the counts and hash are known by then
        f = export.filters
        yield ["Generated at (UTC)", context.generated_at.astimezone(UTC).replace(tzinfo=None)]
        yield ["Generated by", spreadsheet_text(context.generated_by)]
        yield ["Filters", spreadsheet_text(f.describe())]
        yield ["As of", f.as_of.isoformat() if f.as_of else "now"]
        yield ["Mappings", mappings.count]
        yield ["Unmapped obligations", unmapped.count]
        yield ["Rows SHA-256", digest.hexdigest()]
        yield ["Format", f"{JSON_FORMAT} {JSON_SCHEMA_VERSION}"]
        yield ["Times", "UTC; dates ISO 8601"]
        yield ["Reading a row", "obligation RELATIONSHIP control (NIST IR 8477)"]
        yield ["Relationships", ", ".join(RELATIONSHIPS)]
        yield [
            "Cells",
            "Text starting with = + - @ tab or CR has an apostrophe in front, so it is never "
            "run as a formula.",
        ]

    tabular.write_workbook(
        stream,
        [
            tabular.Sheet("Mappings", mappings, header=COLUMNS),
            tabular.Sheet("Unmapped obligations", unmapped, header=UNMAPPED_COLUMNS),
            tabular.Sheet("Metadata", metadata(), header=("Field", "Value"), position=0, width=40),
        ],
    )
    return ExportSummary(mappings.count, unmapped.count, digest.hexdigest())


# -- OSCAL -----------------------------------------------------------------------------------

Opener = Callable[[str], AbstractContextManager[IO[bytes]]]


def write_oscal_documents(
    export: Export, open_file: Opener, context: ExportContext
) -> ExportSummary:
    """The three OSCAL documents, each opened by name with open_file; maps stream."""
    counts = export.counts_by_state()
    if not sum(counts.values()):
        message = (
            "No mapping matches these filters, and an OSCAL mapping-collection needs at least "
            "one. Widen the filters, or export CSV, XLSX or JSON."
        )
        raise Invalid(message, details=[message])
    f = export.filters
    version = f.as_of.isoformat() if f.as_of else context.generated_at.strftime("%Y-%m-%d")
    info = oscal.DocumentInfo(context.generated_at, version, f.describe())
    law = oscal.law_catalog(export.obligations(), info)
    controls = oscal.controls_catalog(export.controls(), info)
    problems = oscal.id_problems(law) + oscal.id_problems(controls)
    if problems:
        raise oscal.OscalProblem("; ".join(problems))
    unmapped = [oscal.obligation_id(r.instrument, r.obligation_key) for r in export.unmapped()]
    for name, document in ((oscal.LAW_CATALOG, law), (oscal.CONTROLS_CATALOG, controls)):
        with open_file(name) as raw, _text(raw) as text:
            json.dump(document, text, indent=1, ensure_ascii=False)
    checker = oscal.MapChecker(oscal.catalog_ids(law), oscal.catalog_ids(controls))
    status = "complete" if not counts.get("proposed") else "draft"
    frame = oscal.mapping_frame(info, status=status, unmapped=unmapped)
    digest = RowDigest()

    def maps() -> Iterator[dict[str, Any]]:
        for row in export.mappings():
            digest.add(row)
            yield oscal.map_entry(row)

    with open_file(oscal.MAPPING_COLLECTION) as raw, _text(raw) as text:
        oscal.write_mapping_collection(frame, maps(), text, checker)
    return ExportSummary(digest.count, len(unmapped), digest.hexdigest())


class _text(AbstractContextManager[io.TextIOWrapper]):  # noqa: N801  (used like open())
    """UTF-8 text over a binary stream that stays open for its owner."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.wrapper = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")

    def __enter__(self) -> io.TextIOWrapper:
        return self.wrapper

    def __exit__(self, *_exc: object) -> None:
        self.wrapper.flush()
        self.wrapper.detach()


def write_oscal(export: Export, stream: IO[bytes], context: ExportContext) -> ExportSummary:
    """The three OSCAL documents in one zip."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        return write_oscal_documents(export, lambda name: archive.open(name, "w"), context)


FORMATS: dict[str, Exporter] = {
    exporter.name: exporter
    for exporter in (
        Exporter("csv", "CSV", "text/csv; charset=utf-8", "csv", write_csv),
        Exporter("xlsx", "Excel workbook", tabular.MEDIA_TYPE, "xlsx", write_xlsx),
        Exporter("json", "JSON", "application/json", "json", write_json),
        Exporter("oscal", "OSCAL 1.2.3", "application/zip", "oscal.zip", write_oscal),
    )
}


def get_exporter(name: str) -> Exporter:
    """The exporter for a format name; an unknown one is refused, naming the known ones."""
    exporter = FORMATS.get((name or "").strip().lower())
    if exporter is None:
        message = f"format must be one of: {', '.join(FORMATS)}"
        raise Invalid(f"Unknown format '{name[:20]}': {message}.", details=[message])
    return exporter
