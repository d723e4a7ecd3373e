"""`flask export ...` and `flask import ...`."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import timedelta

from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.clock import today
from compliance.exports import oscal
from compliance.extensions import db
from compliance.mapping.models import Control
from tests.exports.conftest import oscal_schema_errors


def test_export_mappings_writes_the_file_and_records_it(runner, loaded_catalogue, app, tmp_path):
    out = tmp_path / "m.csv"
    result = runner.invoke(args=["export", "mappings", "--format", "csv", "--out", str(out)])

    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert (
        f"Wrote 2 mappings (all mappings, now) to {out} as CSV; sha256 {digest}." in result.output
    )
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.mappings"))
        assert (event.actor_label, event.entity_id) == ("cli", digest)


def test_export_mappings_takes_filters(runner, loaded_catalogue, tmp_path):
    out = tmp_path / "m.json"
    result = runner.invoke(
        args=[
            "export", "mappings", "--format", "json", "--out", str(out), "--owner", "Policy",
            "--as-of", today().isoformat(), "--state", "proposed", "--jurisdiction", "EU",
        ]
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert [m["control_code"] for m in document["mappings"]] == ["TS-TR-01"]
    assert document["as_of"] == today().isoformat()


def test_oscal_goes_to_a_folder_or_a_zip(runner, loaded_catalogue, tmp_path):
    folder = tmp_path / "oscal"
    assert (
        runner.invoke(
            args=["export", "mappings", "--format", "oscal", "--out", str(folder)]
        ).exit_code
        == 0
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(oscal.DOCUMENTS)
    mapping = json.loads((folder / oscal.MAPPING_COLLECTION).read_text())
    assert oscal_schema_errors(mapping, "oscal_mapping_schema.json") == []

    archive = tmp_path / "oscal.zip"
    assert (
        runner.invoke(
            args=["export", "mappings", "--format", "oscal", "--out", str(archive)]
        ).exit_code
        == 0
    )
    assert sorted(zipfile.ZipFile(archive).namelist()) == sorted(oscal.DOCUMENTS)

    checked = runner.invoke(args=["export", "check-oscal", str(folder)])
    assert checked.exit_code == 0, checked.output
    assert checked.output.count(": valid") == 3


def test_check_oscal_fails_on_a_broken_document(runner, loaded_catalogue, tmp_path):
    runner.invoke(args=["export", "mappings", "--format", "oscal", "--out", str(tmp_path)])
    path = tmp_path / oscal.MAPPING_COLLECTION
    document = json.loads(path.read_text())
    document["mapping-collection"]["mappings"][0]["maps"][0]["targets"][0]["id-ref"] = "NOPE"
    path.write_text(json.dumps(document))

    result = runner.invoke(args=["export", "check-oscal", str(tmp_path)])
    assert result.exit_code == 1
    assert "obligations-to-controls.mapping.json: INVALID" in result.output
    assert "'NOPE' names no control" in result.output


def test_a_refused_export_exits_1_and_writes_nothing(runner, loaded_catalogue, tmp_path):
    out = tmp_path / "exports" / "m.csv"
    long_ago = (today() - timedelta(days=900)).isoformat()
    result = runner.invoke(
        args=["export", "mappings", "--format", "csv", "--out", str(out), "--as-of", long_ago]
    )

    assert result.exit_code == 1
    assert f"Nothing existed on {long_ago}" in result.output
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no half-written temporary file either


def test_export_pack(runner, loaded_catalogue, tmp_path):
    out = tmp_path / "pack.zip"
    result = runner.invoke(
        args=[
            "export",
            "pack",
            "--out",
            str(out),
            "--from",
            "2020-01-01",
            "--to",
            today().isoformat(),
        ]
    )

    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(out)
    assert "SHA256SUMS" in archive.namelist()
    assert "manifest.json" in archive.namelist()
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in result.output


def test_export_audit_trail(runner, loaded_catalogue, tmp_path):
    out = tmp_path / "trail.json"
    result = runner.invoke(
        args=[
            "export",
            "audit-trail",
            "--format",
            "json",
            "--out",
            str(out),
            "--action",
            "control.",
        ]
    )

    assert result.exit_code == 0, result.output
    events = json.loads(out.read_text())["events"]
    assert {e["action"] for e in events} == {"control.created"}
    assert f"Wrote {len(events)} events" in result.output


def test_import_mappings_dry_run_then_apply(runner, loaded_catalogue, app, tmp_path):
    source = tmp_path / "new.csv"
    source.write_text(
        "control_code,control_title,control_domain,control_owner,control_status,instrument,"
        "obligation_key,relationship,strength,rationale,coverage\n"
        "TS-AA-02,Age checks,age-assurance,Product Safety,planned,test-osa,s-12,"
        "intersects-with,6,functional,partial\n"
    )
    dry = runner.invoke(args=["import", "mappings", str(source), "--dry-run"])

    assert dry.exit_code == 0, dry.output
    assert "Dry run new.csv: controls: 1 new; mappings: 1 new." in dry.output
    assert "create mapping test-osa/s-12 -> TS-AA-02" in dry.output
    assert "Nothing was changed" in dry.output
    with app.app_context():
        assert db.session.scalar(select(Control.id).filter_by(code="TS-AA-02")) is None

    applied = runner.invoke(args=["import", "mappings", str(source)])
    assert applied.exit_code == 0, applied.output
    with app.app_context():
        assert db.session.scalar(select(Control.id).filter_by(code="TS-AA-02")) is not None


def test_import_refuses_a_bad_file_with_exit_1(runner, loaded_catalogue, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_bytes("control_code,titre\nX,Contrôle\n".encode("latin-1"))
    result = runner.invoke(args=["import", "mappings", str(source)])

    assert result.exit_code == 1
    assert "not UTF-8" in result.output


def test_import_an_oscal_catalog(runner, loaded_catalogue, app, tmp_path):
    from tests.exports.test_imports import CATALOG

    source = tmp_path / "catalog.json"
    source.write_text(json.dumps(CATALOG))
    result = runner.invoke(
        args=[
            "import", "catalog", str(source), "--prefix", "NIST-", "--domain", "governance",
            "--owner", "Security",
        ]
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Imported catalog.json: controls: 3 new." in result.output
    with app.app_context():
        assert db.session.scalar(select(Control.owner_team).filter_by(code="NIST-AC-1")) == (
            "Security"
        )


def test_help_names_the_commands(runner):
    export_help = runner.invoke(args=["export", "--help"]).output
    import_help = runner.invoke(args=["import", "--help"]).output

    for command in ("mappings", "pack", "audit-trail", "check-oscal"):
        assert command in export_help
    assert "mappings" in import_help and "catalog" in import_help
