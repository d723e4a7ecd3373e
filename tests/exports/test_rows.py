"""The export read model: filters, as-of history, streaming, and the snapshots behind it."""

from __future__ import annotations

import types
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from compliance.catalogue.models import Obligation, Regulation
from compliance.clock import today, utcnow
from compliance.errors import Invalid
from compliance.exports import rows as rows_module
from compliance.exports.models import ControlMappingVersion, ControlVersion, ObligationVersion
from compliance.exports.rows import Export, ExportFilter, RowDigest
from compliance.extensions import db
from compliance.mapping import services as mapping
from compliance.mapping.models import Control, ControlMapping
from tests.exports.conftest import TESTER, age_history


def _pairs(filters: ExportFilter) -> list[tuple[str, str, str]]:
    return [(r.instrument, r.obligation_key, r.control_code) for r in Export(filters).mappings()]


def _obligation_id(slug: str, key: str) -> int:
    return db.session.scalar(
        select(Obligation.id)
        .join(Obligation.regulation)
        .where(Regulation.slug == slug, Obligation.key == key)
    )


def _control(code: str) -> Control:
    return db.session.scalar(select(Control).filter_by(code=code))


def _mapping(code: str) -> ControlMapping:
    return db.session.scalar(
        select(ControlMapping).join(ControlMapping.control).filter(Control.code == code)
    )


def test_one_row_per_pair_with_every_column(in_app):
    rows = list(Export(ExportFilter()).mappings())

    assert [(r.instrument, r.obligation_key, r.control_code) for r in rows] == [
        ("test-dsa", "art-16", "TS-NA-01"),
        ("test-dsa", "art-15", "TS-TR-01"),
    ]
    first = rows[0]
    assert first.jurisdiction == "EU"
    assert first.instrument_title == "Test DSA"
    assert first.instrument_citation == "Regulation (EU) 2022/2065"
    assert len(first.instrument_hash) == 64
    assert first.obligation_ref == "Art. 16"
    assert first.obligation_summary.startswith("Hosting services run")
    assert first.control_title == "Notice intake form"
    assert first.control_owner == "Trust & Safety Operations"
    assert first.control_status == "implemented"
    assert (first.relationship, first.strength, first.rationale, first.coverage) == (
        "subset-of",
        8,
        "functional",
        "full",
    )
    assert first.note == "The form is the notice channel."
    assert (first.state, first.approved_by, first.approved_at) == ("proposed", None, None)


def test_approval_shows_who_and_when(in_app, make_user):
    officer = make_user("officer")
    mapping.set_mapping_state(
        _mapping("TS-NA-01").id, "approved", actor=TESTER.__class__(officer.id, officer.email)
    )
    row = next(Export(ExportFilter(state="approved")).mappings())

    assert row.approved_by == "officer@example.org"
    assert row.approved_at is not None and row.approved_at.tzinfo is not None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"jurisdiction": "EU"}, ["TS-NA-01", "TS-TR-01"]),
        ({"jurisdiction": "GB"}, []),
        ({"instrument": "test-dsa"}, ["TS-NA-01", "TS-TR-01"]),
        ({"topic": "notice-and-action"}, ["TS-NA-01"]),
        ({"topic": "transparency-reporting"}, ["TS-TR-01"]),
        ({"owner": "Policy"}, ["TS-TR-01"]),
        ({"state": "proposed"}, ["TS-NA-01", "TS-TR-01"]),
        ({"state": "approved"}, []),
        ({"owner": "Policy", "topic": "notice-and-action"}, []),
    ],
)
def test_filters(in_app, filters, expected):
    assert [code for _, _, code in _pairs(ExportFilter(**filters))] == expected


def test_filters_apply_the_same_way_as_of_a_date(in_app):
    age_history(3)
    as_of = today() - timedelta(days=1)
    for name, value in (
        ("topic", "notice-and-action"),
        ("owner", "Policy"),
        ("jurisdiction", "EU"),
    ):
        now = _pairs(ExportFilter(**{name: value}))
        then = _pairs(ExportFilter(**{name: value}, as_of=as_of))
        assert now == then, name


def test_unmapped_obligations_ignore_owner_and_state(in_app):
    export = Export(ExportFilter(owner="Policy", state="approved"))
    assert [(o.instrument, o.obligation_key) for o in export.unmapped()] == [
        ("test-dsa", "art-28"),
        ("test-osa", "s-12"),
    ]
    assert [o.obligation_key for o in Export(ExportFilter(jurisdiction="GB")).unmapped()] == [
        "s-12"
    ]


def test_bad_filters_are_refused_naming_each():
    with pytest.raises(Invalid) as refused:
        ExportFilter.from_args(
            {"state": "done", "as_of": "yesterday", "topic": "Bad Topic", "instrument": "x y"}
        )
    assert len(refused.value.details) == 4
    with pytest.raises(Invalid, match="after today"):
        ExportFilter.from_args({"as_of": (today() + timedelta(days=1)).isoformat()})


def test_an_unknown_jurisdiction_is_refused(in_app):
    with pytest.raises(Invalid, match="unknown code 'XX'"):
        Export(ExportFilter(jurisdiction="XX"))


def test_as_of_reproduces_the_state_before_edits_and_deletes(in_app):
    before = list(Export(ExportFilter()).mappings())
    age_history(10)
    last_week = today() - timedelta(days=7)
    # Today: edit one mapping, delete the other, add a third, retitle a control.
    na = _mapping("TS-NA-01")
    mapping.update_mapping(
        na.id,
        mapping.MappingInput("intersects-with", 3, "semantic", "partial", "narrowed"),
        actor=TESTER,
    )
    mapping.delete_mapping(_mapping("TS-TR-01").id, actor=TESTER)
    mapping.map_control(
        _obligation_id("test-osa", "s-12"),
        _control("TS-AA-01").id,
        mapping.MappingInput("intersects-with", 5, "functional", "partial"),
        actor=TESTER,
    )
    control = _control("TS-NA-01")
    data = mapping.ControlInput(**{**mapping.control_snapshot(control), "title": "Renamed form"})
    mapping.update_control(control.id, data, actor=TESTER)

    now = list(Export(ExportFilter()).mappings())
    then = list(Export(ExportFilter(as_of=last_week)).mappings())

    assert then == before
    assert [(r.obligation_key, r.control_code, r.relationship, r.control_title) for r in now] == [
        ("art-16", "TS-NA-01", "intersects-with", "Renamed form"),
        ("s-12", "TS-AA-01", "intersects-with", "Age estimation at sign-up"),
    ]
    assert list(Export(ExportFilter(as_of=today())).mappings()) == now


def test_as_of_follows_the_catalogue_too(in_app):
    age_history(10)
    obligation = db.session.get(Obligation, _obligation_id("test-dsa", "art-16"))
    obligation.title = "A reworded title"
    obligation.retired_at = utcnow()
    db.session.commit()

    keys_now = [o.obligation_key for o in Export(ExportFilter()).obligations()]
    then = Export(ExportFilter(as_of=today() - timedelta(days=5)))

    assert "art-16" not in keys_now
    assert [(o.obligation_key, o.obligation_title) for o in then.obligations()][0] == (
        "art-16",
        "Notice and action mechanism",
    )
    assert [r.obligation_key for r in then.mappings()] == ["art-16", "art-15"]


def test_an_as_of_before_anything_existed_gets_a_clear_answer(in_app):
    with pytest.raises(Invalid) as refused:
        Export(ExportFilter(as_of=today() - timedelta(days=365)))
    assert "Nothing existed on" in refused.value.message
    assert f"it starts on {today().isoformat()}" in refused.value.message


def test_an_as_of_on_an_empty_database_says_so(app_ctx):
    with pytest.raises(Invalid, match="it is empty"):
        Export(ExportFilter(as_of=today()))


def test_every_write_leaves_a_snapshot_in_its_own_transaction(in_app):
    count = db.session.scalar(select(func.count(ControlMappingVersion.id)))
    na = _mapping("TS-NA-01")
    mapping.set_mapping_state(na.id, "approved", actor=TESTER)
    mapping.delete_mapping(na.id, actor=TESTER)
    versions = db.session.scalars(
        select(ControlMappingVersion)
        .where(ControlMappingVersion.mapping_id == na.id)
        .order_by(ControlMappingVersion.id)
    ).all()

    assert db.session.scalar(select(func.count(ControlMappingVersion.id))) == count + 2
    assert [(v.state, v.deleted) for v in versions] == [
        ("proposed", False),
        ("approved", False),
        ("approved", True),
    ]
    # A rolled-back change leaves no snapshot either.
    control = _control("TS-TR-01")
    control.title = "Never saved"
    db.session.flush()
    db.session.rollback()
    titles = db.session.scalars(
        select(ControlVersion.title).where(ControlVersion.control_id == control.id)
    ).all()
    assert "Never saved" not in titles


def test_obligation_snapshots_carry_their_topics(in_app):
    topics = db.session.scalar(
        select(ObligationVersion.topics).where(
            ObligationVersion.obligation_id == _obligation_id("test-osa", "s-12")
        )
    )
    assert topics == " age-assurance minors "


def test_rows_stream_in_batches_without_materialising(in_app, monkeypatch):
    monkeypatch.setattr(rows_module, "BATCH", 1)
    executed = []
    real_execute = db.session.execute

    def spy(statement, *args, **kwargs):
        executed.append(statement.get_execution_options().get("yield_per"))
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", spy)
    stream = Export(ExportFilter()).mappings()

    assert isinstance(stream, types.GeneratorType)
    assert executed == []  # nothing runs until the first row is asked for
    first = next(stream)
    assert executed == [1]
    assert first.control_code == "TS-NA-01"
    stream.close()


def test_the_row_digest_is_over_canonical_json_lines(in_app):
    rows = list(Export(ExportFilter()).mappings())
    digest = RowDigest()
    for row in rows:
        digest.add(row)
    again = RowDigest()
    for row in reversed(rows):
        again.add(row)

    assert digest.count == 2
    assert len(digest.hexdigest()) == 64
    assert digest.hexdigest() != again.hexdigest()  # order matters: it is part of the export
