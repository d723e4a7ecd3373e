"""OSCAL exports: each document valid against NIST's 1.2.3 schemas, every id-ref resolving."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from compliance.errors import Invalid
from compliance.exports import oscal
from compliance.exports.rows import ControlRow, MappingRow, ObligationRow
from tests.exports.conftest import SHARED_OSCAL, export_bytes, oscal_schema_errors

INFO = oscal.DocumentInfo(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), "2026-12-01", "all mappings")


def _documents(data: bytes) -> dict[str, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(oscal.DOCUMENTS)
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


def test_the_three_documents_validate_against_the_official_schemas(in_app):
    documents = _documents(export_bytes("oscal"))

    assert oscal_schema_errors(documents[oscal.LAW_CATALOG], "oscal_catalog_schema.json") == []
    assert oscal_schema_errors(documents[oscal.CONTROLS_CATALOG], "oscal_catalog_schema.json") == []
    assert (
        oscal_schema_errors(documents[oscal.MAPPING_COLLECTION], "oscal_mapping_schema.json") == []
    )


def test_every_id_ref_resolves(in_app):
    documents = _documents(export_bytes("oscal"))
    law = documents[oscal.LAW_CATALOG]
    controls = documents[oscal.CONTROLS_CATALOG]
    collection = documents[oscal.MAPPING_COLLECTION]["mapping-collection"]
    law_ids = {c["id"] for g in law["catalog"]["groups"] for c in g["controls"]}
    control_ids = {c["id"] for c in controls["catalog"]["controls"]}
    (mapping,) = collection["mappings"]
    maps = mapping["maps"]

    assert len(maps) == 2
    for entry in maps:
        assert entry["relationship"] in oscal.RELATIONSHIPS
        for source in entry["sources"]:
            assert source["id-ref"] in law_ids
        for target in entry["targets"]:
            assert target["id-ref"] in control_ids
    assert mapping["source-resource"] == {"type": "catalog", "href": oscal.LAW_CATALOG}
    assert mapping["target-resource"] == {"type": "catalog", "href": oscal.CONTROLS_CATALOG}
    gaps = mapping["source-gap-summary"]["unmapped-controls"][0]["with-ids"]
    assert gaps == ["test-dsa.art-28", "test-osa.s-12"]
    assert set(gaps) <= law_ids
    assert oscal.mapping_problems(documents[oscal.MAPPING_COLLECTION], law, controls) == []


def test_the_documents_carry_the_mapping_fields(in_app):
    documents = _documents(export_bytes("oscal"))
    law = documents[oscal.LAW_CATALOG]["catalog"]
    (mapping,) = documents[oscal.MAPPING_COLLECTION]["mapping-collection"]["mappings"]
    first = mapping["maps"][0]
    props = {p["name"]: p["value"] for p in first["props"]}

    assert [g["id"] for g in law["groups"]] == ["test-dsa", "test-osa"]
    art16 = law["groups"][0]["controls"][0]
    assert art16["id"] == "test-dsa.art-16"
    assert {"name": "label", "value": "Art. 16"} in art16["props"]
    assert art16["parts"][0]["prose"].startswith("Hosting services run")
    assert first["relationship"] == "subset-of"
    assert first["matching-rationale"] == "functional"
    assert first["sources"] == [{"type": "control", "id-ref": "test-dsa.art-16"}]
    assert first["targets"] == [{"type": "control", "id-ref": "TS-NA-01"}]
    assert props == {"strength": "8", "coverage": "full", "state": "proposed"}
    assert first["remarks"] == "The form is the notice channel."
    assert law["metadata"]["oscal-version"] == "1.2.3"
    assert documents[oscal.MAPPING_COLLECTION]["mapping-collection"]["provenance"]["status"] == (
        "draft"  # proposed mappings are not a complete mapping
    )


def test_map_uuids_are_stable_across_exports(in_app):
    first = _documents(export_bytes("oscal"))[oscal.MAPPING_COLLECTION]
    second = _documents(export_bytes("oscal"))[oscal.MAPPING_COLLECTION]

    def uuids(document):
        return [m["uuid"] for m in document["mapping-collection"]["mappings"][0]["maps"]]

    assert uuids(first) == uuids(second)
    assert first["mapping-collection"]["uuid"] != second["mapping-collection"]["uuid"]


def test_oscal_needs_at_least_one_mapping(in_app):
    with pytest.raises(Invalid, match="needs at least one"):
        export_bytes("oscal", state="approved")


def test_the_packaged_schemas_are_nists_files_unchanged():
    for name in ("oscal_catalog_schema.json", "oscal_mapping_schema.json"):
        assert (oscal.SCHEMA_DIR / name).read_bytes() == (SHARED_OSCAL / name).read_bytes()


# -- the app's own checks, on documents the schema accepts -----------------------------------

OBLIGATION = ObligationRow(
    "EU", "eu-dsa", "DSA", "Reg 2022/2065", "a" * 64, "art-16", "Art. 16", "Notice", "Text", ""
)
CONTROL = ControlRow("TS-NA-01", "Form", "A form", "notice-and-action", "T&S", "implemented", None)


def _row(**changes) -> MappingRow:
    values = dict.fromkeys(MappingRow._fields, "")
    values.update(
        instrument="eu-dsa",
        obligation_key="art-16",
        control_code="TS-NA-01",
        relationship="subset-of",
        strength=5,
        rationale="semantic",
        coverage="full",
        state="approved",
        approved_by=None,
        approved_at=None,
        last_reviewed_on=None,
    )
    values.update(changes)
    return MappingRow(**values)


def _collection(*rows: MappingRow) -> tuple[dict, dict, dict]:
    law = oscal.law_catalog([OBLIGATION], INFO)
    controls = oscal.controls_catalog([CONTROL], INFO)
    frame = oscal.mapping_frame(INFO, status="complete", unmapped=[])
    frame["mapping-collection"]["mappings"][0]["maps"] = [oscal.map_entry(r) for r in rows]
    return law, controls, frame


def test_an_unknown_relationship_passes_the_schema_but_not_the_app():
    law, controls, collection = _collection(_row(relationship="kinda-like"))

    assert oscal_schema_errors(collection, "oscal_mapping_schema.json") == []
    problems = oscal.mapping_problems(collection, law, controls)
    assert any("relationship 'kinda-like'" in p for p in problems)


def test_an_id_ref_that_resolves_nowhere_is_caught():
    law, controls, collection = _collection(_row(control_code="TS-XX-99"))

    assert oscal_schema_errors(collection, "oscal_mapping_schema.json") == []
    problems = oscal.mapping_problems(collection, law, controls)
    assert problems == [
        f"map {collection['mapping-collection']['mappings'][0]['maps'][0]['uuid']}: targets "
        "id-ref 'TS-XX-99' names no control in its catalog"
    ]


def test_duplicate_ids_and_maps_are_caught():
    law = oscal.law_catalog([OBLIGATION, OBLIGATION], INFO)
    _, controls, collection = _collection(_row(), _row())

    assert "id 'eu-dsa.art-16' is used more than once" in oscal.id_problems(law)
    assert any("appears twice" in p for p in oscal.mapping_problems(collection, law, controls))


def test_the_streaming_checker_refuses_a_bad_map():
    law, controls, _ = _collection()
    checker = oscal.MapChecker(oscal.catalog_ids(law), oscal.catalog_ids(controls))
    checker.check(oscal.map_entry(_row()))

    with pytest.raises(oscal.OscalProblem, match="appears twice"):
        checker.check(oscal.map_entry(_row()))
    with pytest.raises(oscal.OscalProblem, match="names no control"):
        checker.check(oscal.map_entry(_row(obligation_key="art-99")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TS-NA-01", "TS-NA-01"),
        ("2024-act.s-9", "_2024-act.s-9"),
        ("s.9(2)(a)", "s.9_2__a_"),
        ("überwachung 1", "überwachung_1"),
    ],
)
def test_tokens(text, expected):
    assert oscal.token(text) == expected


def test_awkward_text_still_validates():
    obligation = OBLIGATION._replace(
        instrument="9-act", obligation_title="  two\nlines  ", obligation_ref="s. 9(2)(a)"
    )
    control = CONTROL._replace(code="ODD CODE (1)", title="", owner_team=" spaced\tteam ")
    law = oscal.law_catalog([obligation], INFO)
    controls = oscal.controls_catalog([control], INFO)

    assert oscal_schema_errors(law, "oscal_catalog_schema.json") == []
    assert oscal_schema_errors(controls, "oscal_catalog_schema.json") == []
