"""The catalogue loader: one transaction, idempotent, retires instead of deleting, and never
overwrites what the company changed in the app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from compliance import signals
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor, verify_chain
from compliance.catalogue import loader
from compliance.catalogue.loader import CatalogueInvalid, CatalogueReport, load_catalogue
from compliance.catalogue.models import (
    Jurisdiction,
    LibrarySeed,
    Obligation,
    Regulation,
    Regulator,
    Topic,
    obligation_topics,
    regulation_topics,
)
from compliance.extensions import db
from compliance.mapping import services as mapping_services
from compliance.mapping.models import Control, ControlMapping
from tests.conftest import DATA

TEST_ACTOR = Actor.system("test")
TABLES: tuple[Any, ...] = (
    Topic,
    Jurisdiction,
    Regulator,
    Regulation,
    Obligation,
    Control,
    ControlMapping,
    LibrarySeed,
    AuditEvent,
    regulation_topics,
    obligation_topics,
)

ART_16_BLOCK = """  - key: art-16
    ref: Art. 16
    title: Notice and action mechanism
    summary: Hosting services run an electronic channel for reporting illegal content.
    duty: must
    applies_when: {service: [hosting]}
    topics: [notice-and-action]
    source_url: https://eur-lex.europa.eu/eli/reg/2022/2065/oj
"""
ART_16_MAPPING = """  - obligation: test-dsa/art-16
    control: TS-NA-01
    relationship: subset-of
    strength: 8
    rationale: functional
    coverage: full
    note: The form is the notice channel.
"""


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    return root


@pytest.fixture
def loaded(app_ctx: None, catalogue: Path) -> Path:
    """The copy, loaded once; tests edit it and load again."""
    load_catalogue(catalogue)
    return catalogue


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def row_counts() -> dict[str, int]:
    def count(table: Any) -> int:
        selectable = table.__table__ if hasattr(table, "__table__") else table
        return db.session.scalar(select(func.count()).select_from(selectable)) or 0

    return {getattr(t, "__name__", None) or t.name: count(t) for t in TABLES}


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id))) or 0


def obligation(path: str) -> Obligation:
    slug, key = path.split("/")
    query = (
        select(Obligation).join(Regulation).where(Regulation.slug == slug, Obligation.key == key)
    )
    return db.session.scalars(query).one()


def mapping_pairs() -> set[tuple[str, str]]:
    return {(m.obligation.path, m.control.code) for m in db.session.scalars(select(ControlMapping))}


def control(code: str) -> Control:
    return db.session.scalars(select(Control).filter_by(code=code)).one()


@pytest.fixture
def loaded_signals() -> Iterator[list[CatalogueReport]]:
    received: list[CatalogueReport] = []

    def receive(report: CatalogueReport) -> None:
        received.append(report)

    signals.catalogue_loaded.connect(receive)
    yield received
    signals.catalogue_loaded.disconnect(receive)


def test_first_load_creates_everything(
    app_ctx: None, catalogue: Path, loaded_signals: list[CatalogueReport]
) -> None:
    report = load_catalogue(catalogue)

    assert report.changed
    assert report.files == 7
    assert {kind: report.total(kind, "created") for kind, _ in report.counts} == {
        "topic": 4,
        "jurisdiction": 2,
        "regulator": 2,
        "regulation": 2,
        "obligation": 4,
        "control": 3,
        "mapping": 2,
    }
    assert row_counts() | {"AuditEvent": 0} == {
        "Topic": 4,
        "Jurisdiction": 2,
        "Regulator": 2,
        "Regulation": 2,
        "Obligation": 4,
        "Control": 3,
        "ControlMapping": 2,
        "LibrarySeed": 5,
        "AuditEvent": 0,
        "regulation_topics": 3,
        "obligation_topics": 5,
    }
    assert loaded_signals == [report]


def test_first_load_stores_the_fields(app_ctx: None, catalogue: Path) -> None:
    load_catalogue(catalogue)

    dsa = db.session.scalars(select(Regulation).filter_by(slug="test-dsa")).one()
    assert dsa.short_title == "Test DSA"
    assert dsa.jurisdiction.code == "EU"
    assert dsa.regulator is not None and dsa.regulator.slug == "european-commission"
    assert (dsa.adopted_on, dsa.in_force_on, dsa.applies_from_on) == (
        date(2022, 10, 19),
        date(2022, 11, 16),
        date(2024, 2, 17),
    )
    assert dsa.aliases == ["DSA", "Digital Services Act"]
    assert [t.slug for t in dsa.topics] == ["notice-and-action", "transparency-reporting"]
    assert dsa.source_path == "eu/test-dsa.yaml"
    assert dsa.retired_at is None
    assert [o.key for o in dsa.obligations] == ["art-16", "art-15", "art-28"]
    art_28 = obligation("test-dsa/art-28")
    assert art_28.effective_on == date(2024, 2, 17)
    assert art_28.applies_when == {"service": ["online-platform"], "children": "likely"}
    assert art_28.threshold == "Online platforms accessible to minors."
    osa = db.session.scalars(select(Regulation).filter_by(slug="test-osa")).one()
    assert osa.in_force_on is None
    assert osa.max_penalty == ""
    assert control("TS-NA-01").review_interval_days == 180
    assert control("TS-TR-01").review_interval_days == 365  # the default
    art_16_mapping = obligation("test-dsa/art-16").mappings[0]
    assert (art_16_mapping.control.code, art_16_mapping.strength, art_16_mapping.state) == (
        "TS-NA-01",
        8,
        "proposed",
    )
    gb = db.session.scalars(select(Jurisdiction).filter_by(code="GB")).one()
    assert (gb.level, gb.parent) == ("national", None)


def test_first_load_is_audited(app_ctx: None, catalogue: Path) -> None:
    load_catalogue(catalogue)

    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("catalogue.topic.created") == 4
    assert actions.count("catalogue.regulation.created") == 2
    assert actions.count("catalogue.obligations.changed") == 2  # one per instrument
    assert actions.count("control.created") == 3
    assert actions.count("mapping.created") == 2
    labels = set(db.session.scalars(select(AuditEvent.actor_label)))
    assert labels == {"catalogue loader"}
    assert verify_chain().intact


def test_second_load_changes_nothing(loaded: Path, loaded_signals: list[CatalogueReport]) -> None:
    before, events = row_counts(), audit_count()

    report = load_catalogue(loaded)

    assert not report.changed
    assert all(change == "unchanged" for _, change in report.counts)
    assert report.total("obligation") == 4
    assert report.kept_local == []
    assert (row_counts(), audit_count()) == (before, events)
    assert loaded_signals == []


def test_bad_catalogue_changes_nothing(loaded: Path) -> None:
    before, events = row_counts(), audit_count()
    edit(loaded / "eu/test-dsa.yaml", "yearly reports", "monthly reports")  # a good change ...
    edit(loaded / "mappings/test-dsa.yaml", "control: TS-TR-01", "control: TS-XX-99")  # a bad one

    with pytest.raises(CatalogueInvalid) as raised:
        load_catalogue(loaded)

    assert raised.value.details == [
        "catalogue/mappings/test-dsa.yaml:10: unknown control 'TS-XX-99'"
    ]
    assert "nothing was loaded" in raised.value.message
    assert (row_counts(), audit_count()) == (before, events)
    assert "yearly" in obligation("test-dsa/art-15").summary


def test_bad_catalogue_on_an_empty_database_changes_nothing(app_ctx: None, catalogue: Path) -> None:
    (catalogue / "gb/test-osa.yaml").write_text("slug: [\n", encoding="utf-8")

    with pytest.raises(CatalogueInvalid):
        load_catalogue(catalogue)

    assert set(row_counts().values()) == {0}


def test_editing_a_summary_updates_only_that_obligation(loaded: Path) -> None:
    untouched = {
        path: (obligation(path).updated_at, obligation(path).content_hash)
        for path in ("test-dsa/art-16", "test-dsa/art-28", "test-osa/s-12")
    }
    dsa_hash = db.session.scalars(select(Regulation.content_hash).filter_by(slug="test-dsa")).one()
    events = audit_count()
    edit(loaded / "eu/test-dsa.yaml", "yearly reports", "reports twice a year")

    report = load_catalogue(loaded)

    assert report.total("obligation", "updated") == 1
    assert report.total("obligation", "unchanged") == 3
    assert report.total("regulation", "updated") == 0
    assert obligation("test-dsa/art-15").summary == (
        "Intermediaries publish reports twice a year on their moderation."
    )
    for path, state in untouched.items():
        assert (obligation(path).updated_at, obligation(path).content_hash) == state
    assert (
        db.session.scalars(select(Regulation.content_hash).filter_by(slug="test-dsa")).one()
        == dsa_hash
    )
    new_events = db.session.scalars(select(AuditEvent).where(AuditEvent.id > events)).all()
    assert [(e.action, e.entity_id, e.after) for e in new_events] == [
        ("catalogue.obligations.changed", "test-dsa", {"changes": ["updated art-15"]})
    ]
    assert verify_chain().intact


def test_editing_instrument_fields_updates_the_regulation(loaded: Path) -> None:
    edit(loaded / "gb/test-osa.yaml", "status: partly-in-force", "status: in-force")
    edit(loaded / "gb/test-osa.yaml", "topics: [age-assurance]", "topics: [age-assurance, minors]")

    report = load_catalogue(loaded)

    assert report.total("regulation", "updated") == 1
    assert report.total("obligation", "unchanged") == 4
    osa = db.session.scalars(select(Regulation).filter_by(slug="test-osa")).one()
    assert osa.status == "in-force"
    assert [t.slug for t in osa.topics] == ["age-assurance", "minors"]
    event = db.session.scalars(
        select(AuditEvent).filter_by(action="catalogue.regulation.updated")
    ).one()
    assert event.entity_id == "test-osa"
    assert event.before is not None and event.before["status"] == "partly-in-force"
    assert event.after is not None and event.after["status"] == "in-force"


def test_editing_a_topic_and_a_regulator(loaded: Path) -> None:
    edit(loaded / "topics.yaml", "name: Minors", "name: Children")
    edit(loaded / "regulators.yaml", "url: https://www.ofcom.org.uk/", "url: https://ofcom.org.uk/")

    report = load_catalogue(loaded)

    assert (report.total("topic", "updated"), report.total("regulator", "updated")) == (1, 1)
    assert db.session.scalars(select(Topic.name).filter_by(slug="minors")).one() == "Children"
    event = db.session.scalars(
        select(AuditEvent).filter_by(action="catalogue.regulator.updated")
    ).one()
    assert event.before == {
        "name": "Ofcom",
        "jurisdiction": "GB",
        "url": "https://www.ofcom.org.uk/",
    }
    assert event.after == {"name": "Ofcom", "jurisdiction": "GB", "url": "https://ofcom.org.uk/"}


def test_removed_obligation_is_retired_then_restored(loaded: Path) -> None:
    art_16_id = obligation("test-dsa/art-16").id
    edit(loaded / "eu/test-dsa.yaml", ART_16_BLOCK, "")
    edit(loaded / "mappings/test-dsa.yaml", ART_16_MAPPING, "")

    report = load_catalogue(loaded)

    assert report.total("obligation", "retired") == 1
    retired = obligation("test-dsa/art-16")
    assert retired.id == art_16_id
    assert retired.retired_at is not None
    # The company's mapping stays: it is the company's record, not the library's.
    assert ("test-dsa/art-16", "TS-NA-01") in mapping_pairs()
    assert obligation("test-dsa/art-15").retired_at is None
    event = db.session.scalars(
        select(AuditEvent)
        .filter_by(action="catalogue.obligations.changed")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.after == {
        "changes": ["updated art-15", "updated art-28", "retired art-16"]  # positions moved up
    }

    shutil.copy(DATA / "catalogue/eu/test-dsa.yaml", loaded / "eu/test-dsa.yaml")
    shutil.copy(DATA / "catalogue/mappings/test-dsa.yaml", loaded / "mappings/test-dsa.yaml")
    report = load_catalogue(loaded)

    assert report.total("obligation", "restored") == 1
    restored = obligation("test-dsa/art-16")
    assert (restored.id, restored.retired_at) == (art_16_id, None)
    assert report.total("mapping", "unchanged") == 2
    assert db.session.scalar(select(func.count(ControlMapping.id))) == 2


def test_removed_instrument_is_retired_with_its_obligations_then_restored(loaded: Path) -> None:
    (loaded / "gb/test-osa.yaml").unlink()

    report = load_catalogue(loaded)

    assert report.total("regulation", "retired") == 1
    osa = db.session.scalars(select(Regulation).filter_by(slug="test-osa")).one()
    assert osa.retired_at is not None
    assert obligation("test-osa/s-12").retired_at is not None
    assert obligation("test-dsa/art-16").retired_at is None
    assert db.session.scalars(
        select(AuditEvent.entity_id).filter_by(action="catalogue.regulation.retired")
    ).all() == ["test-osa"]
    assert not load_catalogue(loaded).changed  # retiring happens once

    shutil.copy(DATA / "catalogue/gb/test-osa.yaml", loaded / "gb/test-osa.yaml")
    report = load_catalogue(loaded)

    assert report.total("regulation", "restored") == 1
    assert report.total("obligation", "restored") == 1
    assert (
        db.session.scalars(select(Regulation.retired_at).filter_by(slug="test-osa")).one() is None
    )
    assert obligation("test-osa/s-12").retired_at is None


def _control_input(row: Control, **changes: Any) -> mapping_services.ControlInput:
    values = {
        "code": row.code,
        "title": row.title,
        "description": row.description,
        "domain": row.domain,
        "owner_team": row.owner_team,
        "status": row.status,
        "review_interval_days": row.review_interval_days,
    }
    return mapping_services.ControlInput(**(values | changes))


def test_control_edited_in_the_app_keeps_its_edit(loaded: Path) -> None:
    row = control("TS-NA-01")
    mapping_services.update_control(
        row.id, _control_input(row, title="Our notice form"), actor=TEST_ACTOR
    )
    edit(loaded / "controls.yaml", "title: Notice intake form", "title: Notice intake web form")
    edit(loaded / "controls.yaml", "description: Yearly moderation report.", "description: Yearly.")

    report = load_catalogue(loaded)

    assert report.kept_local == ["control TS-NA-01"]
    assert control("TS-NA-01").title == "Our notice form"
    # A control nobody touched in the app follows the library.
    assert report.total("control", "updated") == 1
    assert control("TS-TR-01").description == "Yearly."
    assert not load_catalogue(loaded).changed


def test_control_edited_in_the_app_is_not_reported_while_the_library_is_unchanged(
    loaded: Path,
) -> None:
    row = control("TS-AA-01")
    mapping_services.update_control(row.id, _control_input(row, status="partial"), actor=TEST_ACTOR)

    report = load_catalogue(loaded)

    assert not report.changed
    assert report.kept_local == []
    assert control("TS-AA-01").status == "partial"


def test_mapping_deleted_in_the_app_is_not_recreated(loaded: Path) -> None:
    mapping = obligation("test-dsa/art-16").mappings[0]
    mapping_services.delete_mapping(mapping.id, actor=TEST_ACTOR)

    assert not load_catalogue(loaded).changed
    edit(loaded / "mappings/test-dsa.yaml", "strength: 8", "strength: 7")  # even when it changes
    load_catalogue(loaded)

    assert mapping_pairs() == {("test-dsa/art-15", "TS-TR-01")}


def test_mapping_edited_in_the_app_keeps_its_edit(loaded: Path) -> None:
    mapping = obligation("test-dsa/art-15").mappings[0]
    mapping_services.update_mapping(
        mapping.id,
        mapping_services.MappingInput("equivalent-to", 5, "semantic", "partial", "ours"),
        actor=TEST_ACTOR,
    )
    edit(loaded / "mappings/test-dsa.yaml", "strength: 9", "strength: 10")

    report = load_catalogue(loaded)

    assert report.kept_local == ["mapping test-dsa/art-15->TS-TR-01"]
    assert obligation("test-dsa/art-15").mappings[0].strength == 5


def test_mapping_untouched_in_the_app_follows_the_library(loaded: Path) -> None:
    edit(loaded / "mappings/test-dsa.yaml", "strength: 9", "strength: 10")

    report = load_catalogue(loaded)

    assert report.total("mapping", "updated") == 1
    assert obligation("test-dsa/art-15").mappings[0].strength == 10


def test_new_library_mapping_is_created_on_a_later_load(loaded: Path) -> None:
    mappings = loaded / "mappings/test-dsa.yaml"
    mappings.write_text(
        mappings.read_text(encoding="utf-8")
        + "  - obligation: test-dsa/art-28\n    control: TS-AA-01\n"
        "    relationship: intersects-with\n    strength: 5\n    rationale: functional\n"
        "    coverage: partial\n",
        encoding="utf-8",
    )

    report = load_catalogue(loaded)

    assert report.total("mapping", "created") == 1
    assert ("test-dsa/art-28", "TS-AA-01") in mapping_pairs()


def test_new_instrument_with_mappings_in_one_load(loaded: Path) -> None:
    text = (loaded / "gb/test-osa.yaml").read_text(encoding="utf-8")
    (loaded / "gb/test-osa-codes.yaml").write_text(
        text.replace("slug: test-osa", "slug: test-osa-codes\nimplements: test-osa"),
        encoding="utf-8",
    )
    (loaded / "mappings/test-osa-codes.yaml").write_text(
        "mappings:\n  - obligation: test-osa-codes/s-12\n    control: TS-AA-01\n"
        "    relationship: subset-of\n    strength: 6\n    rationale: functional\n"
        "    coverage: partial\n",
        encoding="utf-8",
    )

    report = load_catalogue(loaded)

    assert (report.total("regulation", "created"), report.total("mapping", "created")) == (1, 1)
    codes = db.session.scalars(select(Regulation).filter_by(slug="test-osa-codes")).one()
    assert codes.parent is not None and codes.parent.slug == "test-osa"
    assert ("test-osa-codes/s-12", "TS-AA-01") in mapping_pairs()


def test_load_is_one_transaction(
    app_ctx: None, catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mappings = loader._Upsert._mappings

    def fail_after_some_rows(self: Any) -> None:
        real_mappings(self)
        db.session.flush()  # everything before this point has reached the database
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader._Upsert, "_mappings", fail_after_some_rows)

    with pytest.raises(RuntimeError, match="disk full"):
        load_catalogue(catalogue)

    assert set(row_counts().values()) == {0}
    monkeypatch.undo()
    assert load_catalogue(catalogue).changed  # nothing half-done stands in the way
    assert verify_chain().intact


def test_failed_reload_keeps_the_previous_state(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, events = row_counts(), audit_count()
    edit(loaded / "eu/test-dsa.yaml", "yearly reports", "monthly reports")
    (loaded / "gb/test-osa.yaml").unlink()

    def fail(self: Any) -> None:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(loader._Upsert, "_controls", fail)

    with pytest.raises(RuntimeError):
        load_catalogue(loaded)

    assert (row_counts(), audit_count()) == (before, events)
    assert "yearly" in obligation("test-dsa/art-15").summary
    assert obligation("test-osa/s-12").retired_at is None


def test_loaded_catalogue_fixture(app: Flask, loaded_catalogue: None) -> None:
    with app.app_context():
        assert mapping_pairs() == {
            ("test-dsa/art-16", "TS-NA-01"),
            ("test-dsa/art-15", "TS-TR-01"),
        }
        assert {c.owner_team for c in db.session.scalars(select(Control))} == {
            "Trust & Safety Operations",
            "Policy",
            "Product Safety",
        }


def test_jurisdiction_hierarchy(loaded: Path) -> None:
    (loaded / "us.yaml").write_text(
        "jurisdictions:\n"
        "  - code: US-CA\n    name: California\n    level: subnational\n    parent: US\n"
        "  - code: US\n    name: United States\n    level: national\n",
        encoding="utf-8",
    )

    report = load_catalogue(loaded)

    assert report.total("jurisdiction", "created") == 2
    california = db.session.scalars(select(Jurisdiction).filter_by(code="US-CA")).one()
    assert california.parent is not None and california.parent.code == "US"
    event = db.session.scalars(
        select(AuditEvent).filter_by(action="catalogue.jurisdiction.created", entity_id="US-CA")
    ).one()
    assert event.after == {"name": "California", "level": "subnational", "parent": "US"}
