"""The audit trail: one hash-chained event per write, and a check that finds any edit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text, update

from compliance.audit import services as audit
from compliance.audit.models import AuditEvent
from compliance.audit.services import GENESIS_HASH, Actor, record, snapshot, verify_chain
from compliance.auth import services as auth_services
from compliance.auth.models import User
from compliance.database import begin_write
from compliance.extensions import db
from tests.conftest import PASSWORD

TEST_ACTOR = Actor.system("test")


def write_events(count: int, *, label: str = "test") -> list[int]:
    """Append count events, each in its own transaction, the way services do."""
    ids = []
    for n in range(count):
        begin_write()
        event = record(
            Actor.system(label),
            "test.written",
            "thing",
            n,
            summary=f"{label} event {n}",
            before={"n": n - 1} if n else None,
            after={"n": n, "on": date(2024, 2, 17), "tags": ("a", "b")},
        )
        db.session.commit()
        ids.append(event.id)
    return ids


def events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_snapshot_makes_plain_json() -> None:
    moment = datetime(2024, 2, 17, 12, 30, tzinfo=UTC)

    assert snapshot(
        {"on": date(2024, 2, 17), "at": moment, "tags": {"x"}, "pair": (1, 2), 3: None}
    ) == {
        "on": "2024-02-17",
        "at": "2024-02-17T12:30:00+00:00",
        "tags": ["x"],
        "pair": [1, 2],
        "3": None,
    }


def test_snapshot_names_related_rows_by_their_natural_key(app_ctx: None) -> None:
    user = auth_services.create_user(
        "ann@example.org", role="officer", password=PASSWORD, actor=TEST_ACTOR
    )

    assert snapshot({"owner": user}) == {"owner": "ann@example.org"}


def test_events_form_a_chain(app_ctx: None) -> None:
    write_events(3)

    chain = events()

    assert chain[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert len({e.hash for e in chain}) == 3
    assert chain[2].after == {"n": 2, "on": "2024-02-17", "tags": ["a", "b"]}
    assert chain[0].at.tzinfo is not None


def test_chain_is_intact_after_a_series_of_writes(
    app_ctx: None, make_user: Callable[..., User]
) -> None:
    make_user("admin")
    user = make_user("officer")
    issued = auth_services.issue_token(user.email, actor=TEST_ACTOR)
    auth_services.revoke_token(issued.record.id, actor=TEST_ACTOR)
    auth_services.update_user(
        user.id, role="auditor", team="Audit", name="Olly", active=True, actor=TEST_ACTOR
    )
    write_events(5)

    report = verify_chain()

    assert report.intact
    assert (report.checked, report.first_broken_id, report.reason) == (10, None, "")


def test_empty_trail_is_intact(app_ctx: None) -> None:
    assert verify_chain() == audit.ChainReport(0, None)


def test_several_events_in_one_transaction_chain_in_order(app_ctx: None) -> None:
    begin_write()
    with db.session.no_autoflush:  # as the loader does: nothing reaches the database until commit
        for n in range(4):
            record(TEST_ACTOR, "test.batch", "thing", n)
    db.session.commit()

    chain = events()
    assert [e.entity_id for e in chain] == ["0", "1", "2", "3"]
    assert verify_chain().intact


@pytest.mark.parametrize("abandon", ["rollback", "close"])
def test_abandoned_events_leave_no_trace_in_the_chain(app_ctx: None, abandon: str) -> None:
    write_events(2)
    begin_write()
    record(TEST_ACTOR, "test.abandoned", "thing", 1)
    getattr(db.session, abandon)()

    write_events(2, label="later")

    assert [e.action for e in events()].count("test.abandoned") == 0
    assert verify_chain().intact


def test_edited_summary_breaks_the_chain_at_that_event(app_ctx: None) -> None:
    ids = write_events(5)
    db.session.execute(
        text("UPDATE audit_events SET summary = 'nothing to see' WHERE id = :id"), {"id": ids[2]}
    )
    db.session.commit()

    report = verify_chain()

    assert not report.intact
    assert (report.first_broken_id, report.checked) == (ids[2], 2)
    assert report.reason == "its content does not match its hash"


def test_edited_after_breaks_the_chain_at_that_event(app_ctx: None) -> None:
    ids = write_events(5)
    db.session.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.__table__.c.id == ids[3])
        .values(after={"n": 999, "on": "2024-02-17", "tags": ["a", "b"]})
    )
    db.session.commit()

    report = verify_chain()

    assert (report.first_broken_id, report.checked) == (ids[3], 3)


def test_rehashed_edit_still_breaks_the_link_to_the_next_event(app_ctx: None) -> None:
    ids = write_events(4)
    forged = db.session.get(AuditEvent, ids[1])
    assert forged is not None
    forged.summary = "forged"
    forged.hash = audit._event_hash(forged)  # a forger who recomputes the edited event's hash
    db.session.commit()

    report = verify_chain()

    assert report.first_broken_id == ids[2]
    assert report.reason == "its link to the previous event is broken"


def test_deleted_middle_event_breaks_the_chain_at_the_next(app_ctx: None) -> None:
    ids = write_events(5)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
    db.session.commit()

    report = verify_chain()

    assert (report.first_broken_id, report.checked) == (ids[3], 2)
    assert report.reason == "its link to the previous event is broken"


def test_deleted_first_event_breaks_the_chain(app_ctx: None) -> None:
    ids = write_events(3)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[0]))
    db.session.commit()

    assert verify_chain().first_broken_id == ids[1]


def test_verify_reads_in_batches(app_ctx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = write_events(7)
    real = audit._events_in_order
    monkeypatch.setattr(audit, "_events_in_order", lambda: real(batch=3))

    assert verify_chain().checked == 7
    db.session.execute(
        text("UPDATE audit_events SET actor_label = 'x' WHERE id = :id"), {"id": ids[6]}
    )
    db.session.commit()
    assert verify_chain().first_broken_id == ids[6]


def test_concurrent_appends_keep_one_chain(app: Flask) -> None:
    """Two writers at once (threads, each with its own session and connection) never fork."""
    with app.app_context():
        for email in ("one@example.org", "two@example.org"):
            auth_services.create_user(email, role="officer", password=PASSWORD, actor=TEST_ACTOR)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(email: str) -> None:
        try:
            with app.app_context():
                start.wait()
                for n in range(20):
                    auth_services.issue_token(email, name=f"token {n}", actor=Actor.system(email))
        except BaseException as error:  # reported below: a thread cannot fail the test itself
            errors.append(error)

    threads = [
        threading.Thread(target=writer, args=(email,))
        for email in ("one@example.org", "two@example.org")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with app.app_context():
        report = verify_chain()
        assert report.intact, report
        assert report.checked == 42
        prev_hashes = db.session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(set(prev_hashes)) == len(prev_hashes) == 42
        assert (
            db.session.scalar(select(func.count(AuditEvent.id)).filter_by(action="token.issued"))
            == 40
        )
