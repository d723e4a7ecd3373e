"""Export services: the audit record of each export, the audit pack, the trail export, scoping."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.audit.services import AuditFilter
from compliance.clock import today
from compliance.errors import Forbidden, Invalid
from compliance.exports import oscal, services
from compliance.exports.rows import ExportFilter
from compliance.exports.trail import TRAIL_COLUMNS
from compliance.extensions import db
from tests.exports.conftest import TESTER, age_history, export_bytes, oscal_schema_errors


def _export_events() -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action.like("export.%")).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "oscal"])
def test_every_export_leaves_an_audit_event_naming_the_file(in_app, fmt):
    stream = io.BytesIO()
    exported = services.write_mappings(ExportFilter(owner="Policy"), fmt, stream, actor=TESTER)
    (event,) = _export_events()

    assert exported.sha256 == hashlib.sha256(stream.getvalue()).hexdigest()
    assert exported.size == len(stream.getvalue())
    assert event.action == "export.mappings"
    assert event.actor_label == "test"
    assert event.entity_type == "export"
    assert event.entity_id == exported.sha256
    assert event.after["format"] == fmt
    assert event.after["filters"] == {"owner": "Policy"}
    assert event.after["mappings"] == 1
    assert event.after["file_sha256"] == exported.sha256
    assert "1 mappings (owner Policy, now)" in event.summary


def test_a_refused_export_records_nothing(in_app):
    with pytest.raises(Invalid):
        export_bytes("csv", as_of=today() - timedelta(days=400))
    assert _export_events() == []


def test_the_temporary_file_holds_the_export(in_app):
    file, exported = services.export_mappings_file(ExportFilter(), "csv", actor=TESTER)
    with file:
        data = file.read()

    assert data.startswith(b"jurisdiction,instrument,")
    assert hashlib.sha256(data).hexdigest() == exported.sha256
    assert exported.filename == f"mappings-{today().isoformat()}.csv"
    assert exported.media_type == "text/csv; charset=utf-8"


def test_an_oscal_folder_export(in_app, tmp_path):
    files = services.write_oscal_folder(ExportFilter(), tmp_path / "oscal", actor=TESTER)

    assert sorted(files) == sorted(oscal.DOCUMENTS)
    for name, digest in files.items():
        assert hashlib.sha256((tmp_path / "oscal" / name).read_bytes()).hexdigest() == digest
    assert services.check_oscal(tmp_path / "oscal") == dict.fromkeys(files, [])
    (event,) = _export_events()
    assert event.after["files"] == files


def test_check_oscal_reports_problems(in_app, tmp_path):
    services.write_oscal_folder(ExportFilter(), tmp_path, actor=TESTER)
    mapping_file = tmp_path / oscal.MAPPING_COLLECTION
    document = json.loads(mapping_file.read_text())
    document["mapping-collection"]["mappings"][0]["maps"][0]["relationship"] = "kinda-like"
    document["mapping-collection"]["provenance"]["status"] = "final"
    mapping_file.write_text(json.dumps(document))

    results = services.check_oscal(tmp_path)
    assert results[oscal.LAW_CATALOG] == []
    assert any("final" in problem for problem in results[oscal.MAPPING_COLLECTION])
    document["mapping-collection"]["provenance"]["status"] = "draft"
    mapping_file.write_text(json.dumps(document))
    assert any("kinda-like" in p for p in services.check_oscal(tmp_path)[oscal.MAPPING_COLLECTION])


# -- scoping ---------------------------------------------------------------------------------


def test_a_manager_exports_only_their_team():
    filters = ExportFilter(jurisdiction="EU")

    assert services.scope_filters(filters, role="manager", team="Policy").owner == "Policy"
    assert services.scope_filters(filters, role="auditor", team="").owner == ""
    with pytest.raises(Forbidden, match="only export controls owned by your team"):
        services.scope_filters(ExportFilter(owner="Legal"), role="manager", team="Policy")
    with pytest.raises(Forbidden, match="no team"):
        services.scope_filters(filters, role="manager", team="")


# -- the audit trail export ------------------------------------------------------------------


def _event_hash(event: dict) -> str:
    """The chain's hash recomputed from the export alone, as an auditor would."""
    body = {
        "prev": event["prev_hash"],
        "at": event["at"],
        "actor_id": event["actor_id"],
        "actor": event["actor"],
        "action": event["action"],
        "entity": [event["entity_type"], event["entity_id"]],
        "summary": event["summary"],
        "before": event["before"],
        "after": event["after"],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_the_trail_json_lets_an_auditor_recompute_the_chain(in_app):
    stream = io.BytesIO()
    exported = services.write_trail(AuditFilter(), "json", stream, actor=TESTER)
    document = json.loads(stream.getvalue())
    events = document["events"]

    assert document["chain"]["intact"] is True
    assert exported.summary.mappings == len(events) > 5
    assert events[0]["prev_hash"] == "0" * 64
    for before, event in zip(events, events[1:], strict=False):
        assert event["prev_hash"] == before["hash"]
    for event in events:
        assert _event_hash(event) == event["hash"]
    assert "SHA-256" in document["hash_recipe"]


def test_the_trail_export_keeps_the_page_filters(in_app):
    stream = io.BytesIO()
    services.write_trail(AuditFilter(action="mapping."), "csv", stream, actor=TESTER)
    rows = list(csv.reader(io.StringIO(stream.getvalue().decode("utf-8"), newline="")))

    assert tuple(rows[0]) == TRAIL_COLUMNS
    assert {row[TRAIL_COLUMNS.index("action")] for row in rows[1:]} == {"mapping.created"}
    assert [int(row[0]) for row in rows[1:]] == sorted(int(row[0]) for row in rows[1:])
    (event,) = _export_events()
    assert event.action == "export.audit_trail"
    assert event.after["filters"] == {"action": "mapping."}
    assert event.after["events"] == 2


def test_an_unknown_trail_format_is_refused(in_app):
    with pytest.raises(Invalid, match="format must be one of: csv, json"):
        services.write_trail(AuditFilter(), "xlsx", io.BytesIO(), actor=TESTER)


# -- the audit pack --------------------------------------------------------------------------


def _pack(**kwargs) -> tuple[zipfile.ZipFile, services.PackRecord, bytes]:
    stream = io.BytesIO()
    packed = services.write_pack(stream, actor=TESTER, **kwargs)
    return zipfile.ZipFile(io.BytesIO(stream.getvalue())), packed, stream.getvalue()


def test_the_pack_holds_four_formats_the_trail_and_a_matching_manifest(in_app):
    archive, packed, data = _pack(from_on=None, to_on=None)
    names = set(archive.namelist())

    assert names == {
        "mappings.csv",
        "mappings.xlsx",
        "mappings.json",
        *(f"oscal/{name}" for name in oscal.DOCUMENTS),
        "audit-trail.csv",
        "audit-trail.json",
        "manifest.json",
        "SHA256SUMS",
    }
    sums = {}
    for line in archive.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert set(sums) == names - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    manifest = json.loads(archive.read("manifest.json"))
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: digest for name, digest in sums.items() if name != "manifest.json"
    }
    assert manifest["audit_chain"]["intact"] is True
    assert manifest["mappings"] == 2
    for name in (oscal.LAW_CATALOG, oscal.CONTROLS_CATALOG):
        document = json.loads(archive.read(f"oscal/{name}"))
        assert oscal_schema_errors(document, "oscal_catalog_schema.json") == []
    trail = json.loads(archive.read("audit-trail.json"))
    assert trail["events"]
    assert packed.sha256 == hashlib.sha256(data).hexdigest()
    (event,) = _export_events()
    assert event.action == "export.pack"
    assert event.after["manifest_sha256"] == sums["manifest.json"]


def test_the_pack_covers_its_period(in_app):
    age_history(30)
    for event in db.session.scalars(select(AuditEvent)):
        event.at = datetime(2020, 1, 1, tzinfo=UTC)  # breaks the chain: the pack must say so
    db.session.commit()
    end = today() - timedelta(days=10)
    archive, _, _ = _pack(from_on=today() - timedelta(days=20), to_on=end)
    manifest = json.loads(archive.read("manifest.json"))
    trail = json.loads(archive.read("audit-trail.json"))

    assert manifest["period"] == {
        "from": (today() - timedelta(days=20)).isoformat(),
        "to": end.isoformat(),
    }
    assert manifest["mappings_as_of"] == end.isoformat()
    assert trail["events"] == []  # every event is dated 2020, outside the period
    assert manifest["audit_chain"]["intact"] is False
    assert manifest["audit_chain"]["first_broken_id"] == 1


def test_a_pack_for_a_period_before_anything_existed_is_refused(in_app):
    with pytest.raises(Invalid, match="Nothing existed on"):
        _pack(from_on=None, to_on=today() - timedelta(days=100))
    with pytest.raises(Invalid, match="start must not be after its end"):
        _pack(from_on=today(), to_on=today() - timedelta(days=1))


def test_a_pack_without_mappings_explains_the_missing_oscal(in_app):
    from compliance.mapping import services as mapping
    from compliance.mapping.models import ControlMapping

    for found in db.session.scalars(select(ControlMapping)).all():
        mapping.delete_mapping(found.id, actor=TESTER)
    archive, packed, _ = _pack(from_on=None, to_on=None)

    assert not [name for name in archive.namelist() if name.startswith("oscal/")]
    assert packed.notes == ["No OSCAL documents: a mapping-collection needs at least one mapping."]
    assert json.loads(archive.read("manifest.json"))["notes"] == packed.notes
