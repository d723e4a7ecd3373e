"""The mapping services the pages add: evidence links, review dates, counts and gap queries."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.clock import utcnow
from compliance.errors import Invalid, NotFound
from compliance.extensions import db
from compliance.mapping import services
from compliance.mapping.models import Control

ACTOR = Actor.system("test")


def _control_input(**changes: object) -> services.ControlInput:
    values: dict[str, object] = {
        "code": "ts-gv-01",
        "title": "Compliance function",
        "description": "",
        "domain": "governance",
        "owner_team": "Legal",
        "status": "implemented",
        "review_interval_days": 90,
    }
    return services.ControlInput(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("links", "problem"),
    [
        (["https://example.com/a", "http://example.com/b"], None),
        (["ftp://example.com/a"], "not an http:// or https:// address"),
        (["https://"], "not an http:// or https:// address"),
        (["example.com/a"], "not an http:// or https:// address"),
        (["https://example.com/" + "a" * 600], "too long"),
        ([f"https://example.com/{n}" for n in range(51)], "at most 50"),
    ],
)
def test_evidence_link_problems(links, problem):
    problems = services.evidence_link_problems(links)

    if problem is None:
        assert problems == []
    else:
        assert problem in "; ".join(problems)


def test_evidence_links_are_saved_and_audited(app_ctx):
    links = ["https://wiki.example.com/compliance"]

    control = services.create_control_with_evidence(
        _control_input(), evidence_links=links, actor=ACTOR
    )

    assert control.code == "TS-GV-01"
    assert control.evidence_links == links
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.action == "control.created"
    assert event.after["evidence_links"] == links


def test_bad_evidence_links_save_nothing(app_ctx):
    with pytest.raises(Invalid, match="ftp://x is not an http"):
        services.create_control_with_evidence(
            _control_input(), evidence_links=["ftp://x"], actor=ACTOR
        )

    assert db.session.scalar(select(Control.id)) is None


def test_an_update_without_links_keeps_them(app_ctx):
    links = ["https://wiki.example.com/compliance"]
    control = services.create_control_with_evidence(
        _control_input(), evidence_links=links, actor=ACTOR
    )

    services.update_control(control.id, _control_input(title="Renamed"), actor=ACTOR)
    assert db.session.get(Control, control.id).evidence_links == links
    services.update_control_with_evidence(
        control.id, _control_input(title="Renamed"), evidence_links=[], actor=ACTOR
    )
    assert db.session.get(Control, control.id).evidence_links == []


@pytest.mark.parametrize(
    ("reviewed", "interval", "due"),
    [
        (None, 365, True),
        (date(2024, 1, 1), 30, True),  # 31 January has passed
        (date(2024, 1, 1), 31, False),  # ... and is not yet "past" on the day itself
    ],
)
def test_review_due(reviewed, interval, due):
    control = Control(last_reviewed_on=reviewed, review_interval_days=interval)

    assert services.review_due(control, date(2024, 2, 1)) is due


def test_served_counts_leave_out_retired_obligations(app_ctx, loaded_catalogue):
    na = services.get_control_by_code("TS-NA-01")
    tr = services.get_control_by_code("TS-TR-01")
    aa = services.get_control_by_code("TS-AA-01")
    assert services.served_counts([na.id, tr.id, aa.id]) == {na.id: 1, tr.id: 1}

    tr.mappings[0].obligation.retired_at = utcnow()
    db.session.commit()

    assert services.served_counts([na.id, tr.id, aa.id]) == {na.id: 1}
    assert services.served_counts([]) == {}


def test_obligation_gaps_by_jurisdiction(app_ctx, loaded_catalogue):
    every = db.session.scalars(services.obligation_gaps_query()).all()
    british = db.session.scalars(services.obligation_gaps_query("GB")).all()

    assert [o.path for o in every] == ["test-dsa/art-28", "test-osa/s-12"]
    assert [o.path for o in british] == ["test-osa/s-12"]
    with pytest.raises(NotFound):
        services.obligation_gaps_query("XX")


def test_orphan_controls_of_a_team(app_ctx, loaded_catalogue):
    assert [c.code for c in db.session.scalars(services.orphan_controls_of(None))] == ["TS-AA-01"]
    assert list(db.session.scalars(services.orphan_controls_of("Policy"))) == []


def test_live_obligations_narrow_by_words(app_ctx, loaded_catalogue):
    assert len(services.live_obligations()) == 4
    assert [o.path for o in services.live_obligations("dsa 28")] == ["test-dsa/art-28"]
    assert services.live_obligations("100%_") == []
