"""CSV, XLSX and JSON exports: columns, content, quoting, and cells no spreadsheet will run."""

from __future__ import annotations

import csv
import io
import json

import pytest
from jsonschema import Draft202012Validator
from openpyxl import load_workbook
from sqlalchemy import select

from compliance.errors import Invalid
from compliance.exports.formats import FORMATS, get_exporter, neutralise, spreadsheet_text
from compliance.exports.rows import COLUMNS, UNMAPPED_COLUMNS
from compliance.exports.schema import EXPORT_SCHEMA, standalone_schema
from compliance.exports.tabular import MAX_CELL_CHARACTERS
from compliance.extensions import db
from compliance.mapping import services as mapping
from compliance.mapping.models import Control, ControlMapping
from tests.exports.conftest import TESTER, export_bytes

HOSTILE = {
    "=": '=HYPERLINK("http://evil.example","click")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3",
    "@": "@SUM(1,1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _set_note(code: str, note: str) -> None:
    found = db.session.scalar(
        select(ControlMapping).join(ControlMapping.control).where(Control.code == code)
    )
    data = mapping.MappingInput(
        found.relationship_type, found.strength, found.rationale_type, found.coverage, note
    )
    mapping.update_mapping(found.id, data, actor=TESTER)


def _set_title(code: str, title: str) -> None:
    control = db.session.scalar(select(Control).filter_by(code=code))
    data = mapping.ControlInput(**{**mapping.control_snapshot(control), "title": title})
    mapping.update_control(control.id, data, actor=TESTER)


# -- CSV -------------------------------------------------------------------------------------


def test_csv_has_the_columns_and_one_row_per_pair(in_app):
    rows = _csv_rows(export_bytes("csv"))

    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 3
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["jurisdiction"] == "EU"
    assert record["instrument"] == "test-dsa"
    assert record["obligation_ref"] == "Art. 16"
    assert record["control_code"] == "TS-NA-01"
    assert record["control_owner"] == "Trust & Safety Operations"
    assert record["relationship"] == "subset-of"
    assert record["strength"] == "8"
    assert record["approved_by"] == ""
    assert record["last_reviewed_on"] == ""


def test_csv_is_rfc_4180(in_app):
    _set_note("TS-NA-01", 'Says "hello", twice;\nthen a second line')
    data = export_bytes("csv")

    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 3  # CRLF ends each record; the LF inside a field stays bare
    assert b'"Says ""hello"", twice;\nthen a second line"' in data
    assert _csv_rows(data)[1][COLUMNS.index("note")] == 'Says "hello", twice;\nthen a second line'


def test_csv_bom_is_an_option(in_app):
    assert export_bytes("csv", bom=True).startswith(b"\xef\xbb\xbfjurisdiction,")
    assert export_bytes("csv").startswith(b"jurisdiction,")


@pytest.mark.parametrize("trigger", list(HOSTILE))
def test_csv_neutralises_formula_cells(in_app, trigger):
    _set_note("TS-NA-01", HOSTILE[trigger])
    _set_title("TS-TR-01", HOSTILE[trigger])
    rows = _csv_rows(export_bytes("csv"))

    assert rows[1][COLUMNS.index("note")] == "'" + HOSTILE[trigger]
    assert rows[2][COLUMNS.index("control_title")] == "'" + HOSTILE[trigger]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_control_characters_and_long_cells_are_handled(in_app):
    # No NUL: PostgreSQL text cannot hold one, so it never reaches an export.
    _set_note("TS-NA-01", "bell\x07 and soh\x01 and escape\x1b" + "x" * 40_000)
    rows = _csv_rows(export_bytes("csv"))
    note = rows[1][COLUMNS.index("note")]

    assert note.startswith("bell\ufffd and soh\ufffd and escape\ufffd")
    assert len(note) == MAX_CELL_CHARACTERS
    assert note.endswith("…[truncated]")


def test_cell_rules():
    assert neutralise("=1") == "'=1"
    assert neutralise("plain - text") == "plain - text"
    assert spreadsheet_text(None) == ""
    assert spreadsheet_text(7) == "7"
    assert spreadsheet_text("tab\tinside") == "tab\tinside"


def test_an_unknown_format_is_refused():
    with pytest.raises(Invalid, match="format must be one of: csv, xlsx, json, oscal"):
        get_exporter("pdf")
    assert set(FORMATS) == {"csv", "xlsx", "json", "oscal"}


# -- XLSX ------------------------------------------------------------------------------------


def _workbook(data: bytes):
    return load_workbook(io.BytesIO(data))


def test_xlsx_has_metadata_mappings_and_unmapped_sheets(in_app):
    workbook = _workbook(export_bytes("xlsx", owner="Policy"))

    assert workbook.sheetnames == ["Metadata", "Mappings", "Unmapped obligations"]
    mappings = list(workbook["Mappings"].iter_rows(values_only=True))
    assert mappings[0] == COLUMNS
    assert [row[COLUMNS.index("control_code")] for row in mappings[1:]] == ["TS-TR-01"]
    assert mappings[1][COLUMNS.index("strength")] == 9  # numbers stay numbers
    unmapped = list(workbook["Unmapped obligations"].iter_rows(values_only=True))
    assert unmapped[0] == UNMAPPED_COLUMNS
    assert [row[UNMAPPED_COLUMNS.index("obligation_key")] for row in unmapped[1:]] == [
        "art-28",
        "s-12",
    ]
    metadata = {row[0]: row[1] for row in workbook["Metadata"].iter_rows(values_only=True)}
    assert metadata["Mappings"] == 1
    assert metadata["Unmapped obligations"] == 2
    assert metadata["Filters"] == "owner Policy, now"
    assert metadata["As of"] == "now"
    assert metadata["Generated by"] == "test"
    assert len(metadata["Rows SHA-256"]) == 64
    assert workbook["Mappings"].freeze_panes == "A2"
    assert workbook["Mappings"].auto_filter.ref == "A1:X2"


@pytest.mark.parametrize("trigger", list(HOSTILE))
def test_xlsx_neutralises_formula_cells(in_app, trigger):
    _set_note("TS-NA-01", HOSTILE[trigger])
    workbook = _workbook(export_bytes("xlsx"))
    sheet = workbook["Mappings"]
    note = sheet.cell(row=2, column=COLUMNS.index("note") + 1)

    # XML reads a bare CR back as LF (XML 1.0, 2.11); the apostrophe is what matters.
    assert note.value == "'" + HOSTILE[trigger].replace("\r", "\n")
    assert note.data_type == "s"  # text, not a formula
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"


def test_xlsx_handles_control_characters_and_long_cells(in_app):
    _set_note("TS-NA-01", "vt\x0b" + "y" * 40_000)
    note = _workbook(export_bytes("xlsx"))["Mappings"].cell(row=2, column=COLUMNS.index("note") + 1)

    assert note.value.startswith("vt\ufffdyyy")
    assert len(note.value) == MAX_CELL_CHARACTERS


def test_the_rows_hash_is_the_same_in_xlsx_and_json(in_app):
    workbook = _workbook(export_bytes("xlsx"))
    metadata = {row[0]: row[1] for row in workbook["Metadata"].iter_rows(values_only=True)}
    document = json.loads(export_bytes("json"))

    assert document["summary"]["rows_sha256"] == metadata["Rows SHA-256"]


# -- JSON ------------------------------------------------------------------------------------


def test_json_matches_its_documented_schema(in_app, make_user):
    officer = make_user("officer")
    found = db.session.scalar(select(ControlMapping).order_by(ControlMapping.id))
    mapping.set_mapping_state(
        found.id, "approved", actor=TESTER.__class__(officer.id, officer.email)
    )
    document = json.loads(export_bytes("json", as_of=None))
    validator = Draft202012Validator(
        standalone_schema("urn:test"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )

    assert sorted(e.message for e in validator.iter_errors(document)) == []
    assert document["format"] == "compliance-mapping-export"
    assert [m["control_code"] for m in document["mappings"]] == ["TS-NA-01", "TS-TR-01"]
    assert document["mappings"][0]["approved_by"] == "officer@example.org"
    assert document["mappings"][0]["approved_at"].endswith("Z")
    assert document["mappings"][0]["strength"] == 8
    assert [o["obligation_key"] for o in document["unmapped_obligations"]] == ["art-28", "s-12"]
    assert document["summary"]["mappings"] == 2
    assert document["summary"]["unmapped_obligations"] == 2
    assert set(document["mappings"][0]) == set(COLUMNS)
    assert set(EXPORT_SCHEMA["required"]) == set(document)


def test_json_keeps_text_exactly(in_app):
    _set_note("TS-NA-01", "=1+1 with \x01 and ünïcödé")
    document = json.loads(export_bytes("json"))

    assert document["mappings"][0]["note"] == "=1+1 with \x01 and ünïcödé"


def test_an_empty_export_is_still_well_formed(in_app):
    document = json.loads(export_bytes("json", state="approved"))
    rows = _csv_rows(export_bytes("csv", state="approved"))

    assert document["mappings"] == []
    assert document["filters"]["state"] == "approved"
    assert rows == [list(COLUMNS)]


def test_the_workbook_adapter_never_writes_a_formula_or_an_error():
    from compliance.exports import tabular

    stream = io.BytesIO()
    tabular.write_workbook(stream, [tabular.Sheet("S", [["=1+1", "#N/A", "plain", 3]], ("a",) * 4)])
    row = list(load_workbook(io.BytesIO(stream.getvalue()))["S"].iter_rows(min_row=2))[0]

    assert [(cell.value, cell.data_type) for cell in row] == [
        ("=1+1", "s"),
        ("#N/A", "s"),
        ("plain", "s"),
        (3, "n"),
    ]
