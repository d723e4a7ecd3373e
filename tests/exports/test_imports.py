"""Imports: CSV/XLSX round trips, dry runs, OSCAL catalogs, and bad files refused whole."""

from __future__ import annotations

import copy
import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.errors import Invalid
from compliance.exports import services
from compliance.exports.rows import COLUMNS
from compliance.extensions import db
from compliance.mapping import services as mapping
from compliance.mapping.models import Control, ControlMapping
from tests.exports.conftest import TESTER, export_bytes


def _state() -> list[tuple]:
    """Every control and mapping, to show nothing changed."""
    controls = db.session.execute(
        select(Control.code, Control.title, Control.owner_team, Control.status).order_by(
            Control.code
        )
    ).all()
    mappings = db.session.execute(
        select(
            ControlMapping.obligation_id,
            ControlMapping.control_id,
            ControlMapping.relationship_type,
            ControlMapping.strength,
            ControlMapping.note,
            ControlMapping.state,
        ).order_by(ControlMapping.id)
    ).all()
    return [tuple(row) for row in controls] + [tuple(row) for row in mappings]


def _events() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)))


def _csv(rows: list[dict[str, object]], columns=COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in columns})
    return out.getvalue().encode("utf-8")


def _exported_rows() -> list[dict[str, str]]:
    text = export_bytes("csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


NEW_ROW = {
    "instrument": "test-osa",
    "obligation_key": "s-12",
    "control_code": "TS-AA-02",
    "control_title": "Age checks at checkout",
    "control_domain": "age-assurance",
    "control_owner": "Product Safety",
    "control_status": "planned",
    "relationship": "intersects-with",
    "strength": "6",
    "rationale": "functional",
    "coverage": "partial",
    "note": "=cmd",
}


# -- round trips -----------------------------------------------------------------------------


def test_a_csv_export_imports_back_unchanged(in_app):
    before = _state()
    plan = services.import_table("m.csv", export_bytes("csv"), actor=TESTER, dry_run=False)

    assert plan.rows == 2
    assert not plan.changed
    assert plan.summary() == "controls: 2 unchanged; mappings: 2 unchanged"
    assert _state() == before


def test_an_xlsx_export_imports_back_unchanged(in_app):
    mapping.update_mapping(
        db.session.scalar(select(ControlMapping.id).order_by(ControlMapping.id)),
        mapping.MappingInput("subset-of", 8, "functional", "full", "=1+1 and @risk"),
        actor=TESTER,
    )
    before = _state()
    plan = services.import_table("m.xlsx", export_bytes("xlsx"), actor=TESTER, dry_run=False)

    assert not plan.changed  # "'=1+1" in the sheet came back as "=1+1"
    assert _state() == before


def test_dry_run_lists_the_changes_and_changes_nothing(in_app):
    rows = _exported_rows()
    rows[0]["strength"] = "3"
    rows[1]["control_title"] = "Yearly transparency report"
    data = _csv([*rows, NEW_ROW])
    before, events = _state(), _events()

    plan = services.import_table("m.csv", data, actor=TESTER, dry_run=True)

    assert _state() == before
    assert _events() == events
    assert [c.describe() for c in plan.changes if c.action != "unchanged"] == [
        "update control TS-TR-01 (title: 'Transparency report' → 'Yearly transparency report')",
        "create control TS-AA-02",
        "update mapping test-dsa/art-16 -> TS-NA-01 (strength: 8 → 3)",
        "create mapping test-osa/s-12 -> TS-AA-02",
    ]
    assert plan.summary() == (
        "controls: 1 new, 1 changed, 1 unchanged; mappings: 1 new, 1 changed, 1 unchanged"
    )


def test_an_import_applies_everything_in_one_go_with_audit_events(in_app, make_user):
    officer = make_user("officer")
    first = db.session.scalar(select(ControlMapping).order_by(ControlMapping.id))
    mapping.set_mapping_state(first.id, "approved", actor=Actor(officer.id, officer.email))
    rows = _exported_rows()
    rows[0]["strength"] = "3"
    events = _events()

    services.import_table("m.csv", _csv([*rows, NEW_ROW]), actor=TESTER, dry_run=False)

    changed = db.session.get(ControlMapping, first.id)
    assert (changed.strength, changed.state, changed.approved_by_id) == (3, "proposed", None)
    created = db.session.scalar(select(Control).filter_by(code="TS-AA-02"))
    assert (created.title, created.owner_team, created.review_interval_days) == (
        "Age checks at checkout",
        "Product Safety",
        365,
    )
    new_mapping = db.session.scalar(select(ControlMapping).filter_by(control_id=created.id))
    assert (new_mapping.state, new_mapping.note, new_mapping.strength) == ("proposed", "=cmd", 6)
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.id > events).order_by(AuditEvent.id)
    ).all()
    assert actions == ["control.created", "mapping.updated", "mapping.created", "import.mappings"]


def test_a_control_only_row_imports_a_control(in_app):
    row = {k: v for k, v in NEW_ROW.items() if k not in ("instrument", "obligation_key")}
    services.import_table("c.csv", _csv([row]), actor=TESTER, dry_run=False)

    assert db.session.scalar(select(Control.title).filter_by(code="TS-AA-02")) == (
        "Age checks at checkout"
    )
    assert db.session.scalar(select(func.count(ControlMapping.id))) == 2


def test_a_header_with_only_the_required_columns_is_enough(in_app):
    required = [
        "control_code", "control_title", "control_domain", "control_owner", "control_status",
        "instrument", "obligation_key", "relationship", "strength", "rationale", "coverage",
    ]  # fmt: skip
    services.import_table("m.csv", _csv([NEW_ROW], required), actor=TESTER, dry_run=False)

    assert db.session.scalar(select(func.count(ControlMapping.id))) == 3


# -- refusals: nothing half-imported ---------------------------------------------------------


def _refused(data: bytes, name: str = "m.csv") -> Invalid:
    before, events = _state(), _events()
    with pytest.raises(Invalid) as refused:
        services.import_table(name, data, actor=TESTER, dry_run=False)
    assert _state() == before
    assert _events() == events
    return refused.value


def test_a_wrong_header_is_refused_naming_the_columns(in_app):
    error = _refused(b"code,title,owner\r\nX-1,Thing,Team\r\n")

    assert "not an import header" in error.message
    assert "missing column(s): control_code" in error.details[0]
    assert "unknown column(s): 'code', 'title', 'owner'" in error.details[1]


def test_a_file_in_another_encoding_is_refused(in_app):
    latin1 = _csv([{**NEW_ROW, "control_title": "Contrôle d'âge"}]).decode().encode("latin-1")
    error = _refused(latin1)
    assert "not UTF-8" in error.message
    assert "byte 0xf4" in error.message

    utf16 = _csv([NEW_ROW]).decode().encode("utf-16")
    assert "not UTF-8" in _refused(utf16).message


def test_one_bad_row_refuses_the_whole_file(in_app):
    rows = [
        NEW_ROW,
        {**NEW_ROW, "obligation_key": "art-16", "instrument": "test-dsa", "strength": "11"},
        {**NEW_ROW, "obligation_key": "art-99", "instrument": "test-dsa"},
        {**NEW_ROW, "control_code": "TS-ZZ-01", "control_domain": "astrology"},
    ]
    error = _refused(_csv(rows))

    assert "row 3: strength must be a whole number from 1 to 10" in error.details
    assert any("row 5: control_domain 'astrology' must be one of" in d for d in error.details)
    assert db.session.scalar(select(Control.id).filter_by(code="TS-AA-02")) is None


def test_an_unknown_obligation_is_refused(in_app):
    error = _refused(_csv([{**NEW_ROW, "obligation_key": "s-99"}]))
    assert error.details == ["test-osa/s-99: no such obligation in the catalogue"]


def test_conflicting_rows_for_one_control_are_refused(in_app):
    rows = [NEW_ROW, {**NEW_ROW, "obligation_key": "s-12", "control_title": "Other title"}]
    error = _refused(_csv(rows))
    assert "row 3: control TS-AA-02 differs from row 2" in error.details
    assert "row 3: the pair test-osa/s-12 -> TS-AA-02 is given twice" in error.details


def test_malformed_and_empty_files_are_refused(in_app):
    assert "empty" in _refused(b"").message
    assert "header but no rows" in _refused(_csv([])).details[0]
    assert "malformed" in _refused(b'control_code,"unclosed\r\nx').message.lower()
    assert "binary data" in _refused(b"a,b\x00c").message


def test_too_many_csv_rows_are_refused(app, in_app):
    app.config["IMPORT_MAX_ROWS"] = 3
    error = _refused(_csv([NEW_ROW] * 5))
    assert "more than 3 rows" in error.message


def test_a_file_over_the_size_limit_is_refused(app, in_app):
    app.config["IMPORT_MAX_BYTES"] = 100
    with pytest.raises(Invalid, match="larger than 100 bytes"):
        services.read_upload(io.BytesIO(b"x" * 101))


# -- hostile workbooks -----------------------------------------------------------------------


def _rezip(data: bytes, change) -> bytes:
    """Copy an XLSX, letting change(name, content) edit or add parts."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        parts = {name: source.read(name) for name in source.namelist()}
        for name, content in change(parts).items():
            target.writestr(name, content)
    return out.getvalue()


def test_a_zip_bomb_is_refused(in_app):
    workbook = export_bytes("xlsx")

    def bomb(parts):
        return {**parts, "xl/media/padding.bin": b"\0" * (20 * 1024 * 1024)}

    error = _refused(_rezip(workbook, bomb), "bomb.xlsx")
    assert "zip bomb" in error.message


def test_a_workbook_unpacking_past_the_cap_is_refused(app, in_app):
    app.config["IMPORT_MAX_UNPACKED_BYTES"] = 5_000
    error = _refused(export_bytes("xlsx"), "big.xlsx")
    assert "unpacks to more than 5,000 bytes" in error.message


def test_external_links_are_refused(in_app):
    def link(parts):
        return {
            **parts,
            "xl/externalLinks/externalLink1.xml": b'<externalLink xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main"/>',
        }

    error = _refused(_rezip(export_bytes("xlsx"), link), "linked.xlsx")
    assert "external links" in error.message


def _sheet_part(parts) -> str:
    workbook_rels = parts["xl/_rels/workbook.xml.rels"].decode()
    # The Mappings sheet is the second tab (Metadata is first): its part is sheet2.xml.
    assert "worksheets/sheet2.xml" in workbook_rels
    return "xl/worksheets/sheet2.xml"


def test_a_million_rows_are_refused(in_app):
    def million(parts):
        name = _sheet_part(parts)
        far = '<row r="1000001"><c r="A1000001" t="inlineStr"><is><t>x</t></is></c></row>'
        parts[name] = parts[name].replace(b"</sheetData>", far.encode() + b"</sheetData>")
        return parts

    error = _refused(_rezip(export_bytes("xlsx"), million), "million.xlsx")
    assert "at most 50,000" in error.message


def test_a_declared_million_rows_are_refused_before_reading(in_app):
    def declared(parts):
        name = _sheet_part(parts)
        parts[name] = (
            parts[name]
            .replace(b"<sheetPr>", b'<dimension ref="A1:X1000001"/><sheetPr>', 1)
            .replace(b"<sheetData>", b"<sheetData>", 1)
        )
        # A dimension must come after sheetPr in the schema; openpyxl does not mind the order.
        return parts

    error = _refused(_rezip(export_bytes("xlsx"), declared), "declared.xlsx")
    assert "1,000,000 rows" in error.message


def test_a_file_that_is_not_a_workbook_is_refused(in_app):
    assert "not an XLSX" in _refused(b"PK\x03\x04 not really a zip", "x.xlsx").message
    assert "not an XLSX" in _refused(b"plain text", "x.xlsx").message


# -- OSCAL catalogs --------------------------------------------------------------------------

CATALOG = {
    "catalog": {
        "uuid": "6f1f2a7e-1c1e-4b8f-9d1e-0a2b3c4d5e6f",
        "metadata": {
            "title": "Mini SP 800-53",
            "last-modified": "2026-01-01T00:00:00Z",
            "version": "5.1",
            "oscal-version": "1.2.3",
        },
        "groups": [
            {
                "id": "ac",
                "class": "family",
                "title": "Access Control",
                "controls": [
                    {
                        "id": "ac-1",
                        "title": "Policy and Procedures",
                        "params": [
                            {"id": "ac-01_odp.01", "label": "organization-defined personnel"}
                        ],
                        "parts": [
                            {
                                "id": "ac-1_smt",
                                "name": "statement",
                                "prose": "Develop a policy and give it to "
                                "{{ insert: param, ac-01_odp.01 }}:",
                                "parts": [
                                    {
                                        "id": "ac-1_smt.a",
                                        "name": "item",
                                        "props": [{"name": "label", "value": "a."}],
                                        "prose": "Review it yearly.",
                                    }
                                ],
                            },
                            {"id": "ac-1_gdn", "name": "guidance", "prose": "Not imported."},
                        ],
                    },
                    {
                        "id": "ac-2",
                        "title": "Account Management",
                        "controls": [{"id": "ac-2.1", "title": "Automated Account Management"}],
                    },
                    {
                        "id": "ac-13",
                        "title": "Supervision and Review",
                        "props": [{"name": "status", "value": "withdrawn"}],
                    },
                ],
            }
        ],
    }
}


def _import_catalog(document, *, dry_run=False, **options):
    arguments = {"prefix": "NIST-", "domain": "governance", "owner_team": "Security"} | options
    data = json.dumps(document).encode()
    return services.import_oscal_catalog(
        "catalog.json", data, actor=TESTER, dry_run=dry_run, **arguments
    )


def test_an_oscal_catalog_imports_as_controls(in_app):
    dry = _import_catalog(CATALOG, dry_run=True)
    assert db.session.scalar(select(Control.id).filter_by(code="NIST-AC-1")) is None
    assert [c.key for c in dry.changes] == ["NIST-AC-1", "NIST-AC-2", "NIST-AC-2.1"]

    _import_catalog(CATALOG)
    ac1 = db.session.scalar(select(Control).filter_by(code="NIST-AC-1"))
    assert ac1.title == "Policy and Procedures"
    assert ac1.description == (
        "Develop a policy and give it to [organization-defined personnel]:\na. Review it yearly."
    )
    assert (ac1.domain, ac1.owner_team, ac1.status) == ("governance", "Security", "not-implemented")
    assert db.session.scalar(select(Control.id).filter_by(code="NIST-AC-13")) is None  # withdrawn
    assert not _import_catalog(CATALOG).changed  # a second run changes nothing


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda c: c["catalog"].pop("uuid"), "'uuid' is a required property"),
        (lambda c: c["catalog"]["groups"][0]["controls"][0].update(id="9 bad id"), "9 bad id"),
        (lambda c: c["catalog"]["metadata"].update({"last-modified": "15/01/2026"}), "15/01/2026"),
        (lambda c: c["catalog"]["groups"][0]["controls"][1].update(id="ac-1"), "used more than"),
    ],
)
def test_an_invalid_oscal_catalog_is_refused(in_app, break_it, reason):
    document = copy.deepcopy(CATALOG)
    break_it(document)
    before, events = _state(), _events()

    with pytest.raises(Invalid) as refused:
        _import_catalog(document)

    assert refused.value.message.startswith("Nothing was imported: the OSCAL catalog")
    assert any(reason in detail for detail in refused.value.details), refused.value.details
    assert (_state(), _events()) == (before, events)


def test_files_that_are_not_oscal_catalogs_are_refused(in_app):
    with pytest.raises(Invalid, match="not JSON"):
        services.import_oscal_catalog(
            "x.json", b"{nope", prefix="N-", domain="governance", owner_team="S", actor=TESTER,
            dry_run=True,
        )  # fmt: skip
    with pytest.raises(Invalid, match="root must be a 'catalog'"):
        _import_catalog({"mapping-collection": {}})
    with pytest.raises(Invalid, match="prefix must be"):
        _import_catalog(CATALOG, prefix="bad prefix!")
