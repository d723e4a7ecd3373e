"""The alert outbox end to end, against a real SMTP server (aiosmtpd) on 127.0.0.1.

Reviews are opened through the real feed-storing code, so each test exercises the path a poll
takes: entry stored → review opened → alert event and deliveries in the same transaction.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from compliance.alerts import outbox, services
from compliance.alerts.models import AlertDelivery, AlertEvent, AlertMessage, AlertSubscription
from compliance.alerts.services import SubscriptionInput
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.extensions import db
from compliance.reviews import services as reviews
from compliance.reviews.models import ChangeReview
from compliance.reviews.services import ReviewChanges
from tests.reviews.conftest import entry_maker, review_of

RELEVANT = "Commission opens proceedings under Art. 16 DSA"
REPOSITORY = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    monkeypatch.setattr("compliance.clock.utcnow", frozen)
    return frozen


@pytest.fixture
def mail(app: Flask, smtp_server: Any) -> Any:
    """The app sends through the test SMTP server."""
    app.config.update(smtp_server.config)
    return smtp_server


@pytest.fixture
def ingest(app: Flask, loaded_catalogue: None) -> Callable[..., int]:
    return entry_maker(app)


def subscribe(app: Flask, user: User, **scope: Any) -> int:
    with app.app_context():
        found = db.session.get(User, user.id)
        assert found is not None
        created = services.subscribe(
            found, SubscriptionInput(**scope), actor=Actor(found.id, found.email)
        )
        return created.id


def send(app: Flask) -> outbox.SendReport:
    with app.app_context():
        return outbox.send_due(rng=random.Random(7))


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def message_rows(app: Flask) -> list[AlertMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(AlertMessage).order_by(AlertMessage.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


# -- raising and delivering -----------------------------------------------------------------


def test_a_review_in_scope_is_mailed_with_the_right_headers(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any
) -> None:
    eu = make_user("manager", email="eu@example.org")
    uk = make_user("manager", email="uk@example.org")
    subscribe(app, eu, jurisdictions=("EU",))
    subscribe(app, uk, jurisdictions=("GB",))

    review_id = review_of(app, ingest(RELEVANT, "Notice and action under the DSA.", guid="a"))

    assert review_id is not None
    # Written with the review, before any sender ran: the outbox row is the promise.
    assert count(app, AlertDelivery) == 1
    [queued] = message_rows(app)
    assert queued.state == "queued" and queued.address == "eu@example.org"
    assert send(app).sent == 1

    [message] = mail.messages
    assert mail.envelopes[0].recipients == ("eu@example.org",)
    assert message["To"] == "eu@example.org"
    assert message["Subject"] == (
        "[EU] European Commission: Commission opens proceedings under Art. 16 DSA "
        "— 1 obligation affected"
    )
    assert message["Message-ID"] == queued.message_id
    assert message["Message-ID"].startswith("<alert.") and message["Message-ID"].endswith(
        "@localhost>"
    )
    assert message["Date"] and message["From"].addresses[0].addr_spec == "compliance@localhost"
    assert message["List-Unsubscribe"].startswith("<http://localhost/alerts/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    review_url = f"http://localhost/reviews/{review_id}"
    assert review_url in text and review_url in html
    assert "Art. 16" in text and "TS-NA-01 Notice intake form (Trust & Safety Operations)" in text
    with app.app_context():
        row = db.session.get(AlertMessage, queued.id)
        assert row is not None and row.state == "sent" and row.attempts == 1


def test_an_event_and_its_alerts_commit_together_or_not_at_all(
    app: Flask, ingest: Callable[..., int], make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(app, make_user("manager", email="eu@example.org"), jurisdictions=("EU",))

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk full while writing the outbox")

    monkeypatch.setattr(outbox, "record_event", broken)
    with pytest.raises(Exception, match="disk full|ok"):
        ingest(RELEVANT, guid="a")

    # The review that would have gone unannounced was not stored either; the next poll
    # stores both.
    assert count(app, ChangeReview) == 0
    assert count(app, AlertEvent) == 0
    monkeypatch.undo()
    ingest(RELEVANT, guid="a")
    assert count(app, ChangeReview) == 1 and count(app, AlertDelivery) == 1


def test_out_of_scope_and_ended_subscriptions_get_nothing(
    app: Flask, ingest: Callable[..., int], make_user: Any
) -> None:
    subscribe(app, make_user("manager", email="topic@example.org"), topics=("minors",))
    subscribe(app, make_user("manager", email="osa@example.org"), regulations=("test-osa",))
    ended = subscribe(app, make_user("manager", email="ended@example.org"))
    everything = make_user("officer", email="all@example.org")
    subscribe(app, everything)
    subscribe(app, everything, jurisdictions=("EU",))  # the same person twice: one alert
    with app.app_context():
        subscription = db.session.get(AlertSubscription, ended)
        assert subscription is not None
        subscription.active = False
        db.session.commit()

    ingest(RELEVANT, guid="a")

    assert [m.address for m in message_rows(app)] == ["all@example.org"]


def test_the_server_down_then_back_delivers_every_message_exactly_once(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any, clock: Clock
) -> None:
    for n in range(5):
        subscribe(app, make_user("manager", email=f"m{n}@example.org"))
    ingest(RELEVANT, guid="a")
    mail.stop()

    down = send(app)

    assert (down.sent, down.retrying, down.failed) == (0, 5, 0)
    rows = message_rows(app)
    assert {r.state for r in rows} == {"queued"} and {r.attempts for r in rows} == {1}
    assert all("refused" in r.last_error.lower() or "connect" in r.last_error.lower() for r in rows)
    assert all(r.due_at > clock.now for r in rows)  # backed off, not hammering
    assert send(app).attempted == 0  # nothing is due yet

    mail.start()
    clock.advance(minutes=5)
    back = send(app)
    again = send(app)

    assert (back.sent, back.retrying, back.failed) == (5, 0, 0)
    assert again.attempted == 0
    ids = Counter(m["Message-ID"] for m in mail.messages)
    assert len(ids) == 5 and set(ids.values()) == {1}  # delivered 5, duplicates 0
    assert {r.message_id for r in message_rows(app)} == set(ids)  # fixed at creation
    assert {(r.state, r.attempts) for r in message_rows(app)} == {("sent", 2)}


def test_a_451_is_retried_and_then_delivered(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any, clock: Clock
) -> None:
    subscribe(app, make_user("manager", email="eu@example.org"))
    ingest(RELEVANT, guid="a")
    mail.script("451 4.3.0 Mailbox busy, try again later")

    first = send(app)
    [row] = message_rows(app)
    assert first.retrying == 1 and row.state == "queued" and row.last_code == 451
    clock.advance(minutes=5)
    second = send(app)

    assert second.sent == 1
    assert len(mail.messages) == 1 and mail.data_commands == 2
    [row] = message_rows(app)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, "")


def test_a_550_stops_and_shows_on_the_admin_page(
    app: Flask, client: Any, login: Any, ingest: Callable[..., int], make_user: Any, mail: Any,
    clock: Clock,
) -> None:  # fmt: skip
    subscribe(app, make_user("manager", email="gone@example.org"))
    ingest(RELEVANT, guid="a")
    mail.script("550 5.1.1 No such user here", at="RCPT")

    report = send(app)
    clock.advance(days=2)
    later = send(app)

    assert report.failed == 1 and later.attempted == 0
    [row] = message_rows(app)
    assert row.state == "failed" and row.last_code == 550 and "No such user" in row.last_error
    assert mail.messages == []
    login("admin", email="root@example.org")
    page = client.get("/alerts/admin").get_data(as_text=True)
    assert "gone@example.org" in page and "550" in page and "No such user" in page


def test_a_sender_killed_between_sending_and_committing_resends_the_same_message_once(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any, clock: Clock
) -> None:
    clock.now = datetime.now(UTC)  # the killed sender lives on the real clock
    subscribe(app, make_user("manager", email="eu@example.org"))
    ingest(RELEVANT, guid="a")
    child = _sender_process(app, mail)
    original = mail.handler.handle_DATA

    async def accept_then_kill(server: Any, session: Any, envelope: Any) -> str:
        reply = await original(server, session, envelope)
        os.kill(child.pid, signal.SIGKILL)  # the server has the message; the client never
        child.wait(timeout=30)  # reads the 250, and never commits "sent"
        return str(reply)

    mail.handler.handle_DATA = accept_then_kill
    child.stdin.close()  # go
    assert child.wait(timeout=60) == -signal.SIGKILL
    mail.handler.handle_DATA = original

    [row] = message_rows(app)
    assert row.state == "sending" and len(mail.messages) == 1
    assert send(app).sent == 0  # a send still in flight elsewhere is left alone
    clock.advance(seconds=app.config["ALERTS_SENDING_TIMEOUT_SECONDS"] + 120)
    recovered = send(app)
    assert (recovered.recovered, recovered.sent) == (1, 1)
    assert send(app).attempted == 0

    # The one duplicate SMTP cannot prevent, and it is the same message: one Message-ID.
    copies = mail.messages
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"] == row.message_id
    assert copies[0]["Date"] == copies[1]["Date"]
    assert (
        copies[0].get_body(("plain",)).get_content() == copies[1].get_body(("plain",)).get_content()
    )
    [row] = message_rows(app)
    assert row.state == "sent" and row.attempts == 2


def _sender_process(app: Flask, mail: Any) -> subprocess.Popen[bytes]:
    """`flask alerts send` in its own process, waiting for its stdin to close to start."""
    env = {
        **os.environ,
        "COMPLIANCE_SECRET_KEY": str(app.config["SECRET_KEY"]),
        "COMPLIANCE_DATABASE_URL": str(app.config["SQLALCHEMY_DATABASE_URI"]),
        "COMPLIANCE_SEARCH_INDEX_DIR": str(app.config["SEARCH_INDEX_DIR"]),
        "COMPLIANCE_BASE_URL": str(app.config["BASE_URL"]),
        "COMPLIANCE_SMTP_URL": mail.url,
    }
    script = (
        "import sys; sys.stdin.read();"
        "from compliance.app import create_app; from compliance.alerts import outbox;"
        "app = create_app();"
        "ctx = app.app_context(); ctx.push(); outbox.send_due()"
    )
    return subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", script], cwd=REPOSITORY, env=env, stdin=subprocess.PIPE
    )


# -- headers from hostile feeds -----------------------------------------------------------------


def test_feed_titles_cannot_inject_headers(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any
) -> None:
    subscribe(app, make_user("manager", email="eu@example.org"))
    entry_id = ingest(RELEVANT, guid="a")
    review_id = review_of(app, entry_id)
    hostile = "Art. 16 DSA\r\nBcc: victim@example.net\r\nX-Injected: yes\u2028Subject: spoof"
    with app.app_context():
        review = db.session.get(ChangeReview, review_id)
        assert review is not None
        review.entry.title = hostile  # as if the feed parser had let it through
        db.session.flush()
        event = services.review_opened(review)
        assert event is None  # its key exists: replays add nothing
        for model in (AlertDelivery, AlertMessage, AlertEvent):
            db.session.execute(model.__table__.delete())  # type: ignore[attr-defined]
        event = services.review_opened(review)
        db.session.commit()
        assert event is not None and "\r" not in event.subject and "\n" not in event.subject

    assert send(app).sent == 1
    [message] = mail.messages
    assert mail.envelopes[0].recipients == ("eu@example.org",)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["Subject"].startswith("[EU] European Commission: Art. 16 DSA Bcc: victim")
    assert len(message.get_all("Subject")) == 1


# -- digests ------------------------------------------------------------------------------------


def test_a_digest_of_200_events_is_one_message_grouped_by_place_and_instrument(
    app: Flask, make_user: Any, mail: Any, loaded_catalogue: None
) -> None:
    user = make_user("manager", email="digest@example.org")
    subscription_id = subscribe(app, user, cadence="daily")
    places = [("EU", "Test DSA"), ("GB", "Test OSA"), ("US", "COPPA"), ("EU", "Other EU act")]
    with app.app_context():
        subscription = db.session.get(AlertSubscription, subscription_id)
        assert subscription is not None
        for n in range(200):
            code, instrument = places[n % len(places)]
            event = AlertEvent(
                key=f"test:{n}",
                kind="review-opened",
                subject=f"[{code}] item {n:03d}",
                jurisdiction=code,
                instrument=instrument,
                data={"target": {"endpoint": "reviews.index", "values": {}}},
            )
            outbox.record_event(event, [subscription])
        db.session.commit()
    assert count(app, AlertMessage) == 0  # digest subscribers wait for the digest

    with app.app_context():
        report = outbox.bundle_digests("daily")
        again = outbox.bundle_digests("daily")
    sent = send(app)

    assert (report.messages, report.items, again.messages) == (1, 200, 0)
    assert sent.sent == 1
    [message] = mail.messages
    assert message["Subject"] == "Daily digest: 200 changes in EU, UK, US"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert all(f"item {n:03d}" in text for n in range(200))
    # Grouped: jurisdiction headings in order, instruments under them.
    positions = [text.index(heading) for heading in ("\nEU\n", "\nUK\n", "\nUS\n")]
    assert positions == sorted(positions)
    assert text.index("Other EU act") < text.index("Test DSA") < text.index("\nUK\n")
    html = message.get_body(("html",)).get_content()
    assert html.count("<li") >= 200 and "Test OSA" in html


# -- action required, acknowledgement, escalation ---------------------------------------------


def _to_action_required(app: Flask, review_id: int, officer: User) -> None:
    with app.app_context():
        actor = Actor(officer.id, officer.email)
        for state in ("triaged", "assessing"):
            reviews.update_review(review_id, ReviewChanges(state=state), actor=actor)
        reviews.update_review(
            review_id,
            ReviewChanges(state="action-required", decision_note="Update the notice form."),
            actor=actor,
        )


def test_action_required_reaches_the_owners_who_acknowledge_it(
    app: Flask, client: Any, login: Any, ingest: Callable[..., int], make_user: Any, mail: Any
) -> None:
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    assert review_id is not None
    officer = make_user("officer", email="officer@example.org")
    make_user("manager", email="ops@example.org", team="Trust & Safety Operations")
    make_user("manager", email="policy@example.org", team="Policy")  # owns TS-TR-01, not cited
    _to_action_required(app, review_id, officer)
    assert send(app).sent == 1

    [message] = mail.messages  # the owner of TS-NA-01, mapped to the cited Art. 16
    assert mail.envelopes[0].recipients == ("ops@example.org",)
    assert message["Subject"] == (
        "[EU] Action required: Commission opens proceedings under Art. 16 DSA "
        "— 1 control of Trust & Safety Operations"
    )
    with app.app_context():
        event = db.session.scalar(select(AlertEvent).filter_by(kind="action-required"))
        assert event is not None
        event_id = event.id
    text = message.get_body(("plain",)).get_content()
    assert f"http://localhost/alerts/events/{event_id}/acknowledge" in text
    assert "TS-NA-01" in text and "Update the notice form." in text

    # Someone it was not sent to cannot acknowledge it.
    login("manager", team="Policy", email="policy2@example.org")
    assert client.get(f"/alerts/events/{event_id}/acknowledge").status_code == 403

    owner_client = app.test_client()
    _log_in(owner_client, "ops@example.org")
    page = owner_client.get(f"/alerts/events/{event_id}/acknowledge")
    assert page.status_code == 200 and "Acknowledge" in page.get_data(as_text=True)
    token = _token(owner_client, f"/alerts/events/{event_id}/acknowledge")
    done = owner_client.post(f"/alerts/events/{event_id}/acknowledge", data={"csrf_token": token})
    assert done.status_code == 303

    officer_client = app.test_client()
    _log_in(officer_client, "officer@example.org")
    review_page = officer_client.get(f"/reviews/{review_id}").get_data(as_text=True)
    assert "acknowledged</span> by" in review_page and "ops@example.org" in review_page
    with app.app_context():
        event = db.session.get(AlertEvent, event_id)
        assert event is not None and event.acknowledged_by.email == "ops@example.org"


def test_unacknowledged_action_escalates_to_admins_once(
    app: Flask, ingest: Callable[..., int], make_user: Any, mail: Any, clock: Clock
) -> None:
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    assert review_id is not None
    officer = make_user("officer", email="officer@example.org")
    make_user("manager", email="ops@example.org", team="Trust & Safety Operations")
    make_user("admin", email="admin@example.org")
    _to_action_required(app, review_id, officer)
    days = app.config["ALERTS_ESCALATE_AFTER_DAYS"]

    with app.app_context():
        early = services.escalate_unacknowledged()
    clock.advance(days=days, minutes=1)
    with app.app_context():
        late = services.escalate_unacknowledged()
        again = services.escalate_unacknowledged()
    send(app)

    assert (early.escalated, late.escalated, again.escalated) == (0, 1, 0)
    to_admin = [m for m in mail.messages if m["To"] == "admin@example.org"]
    assert len(to_admin) == 1
    assert to_admin[0]["Subject"].startswith(f"Unacknowledged for {days} days: [EU] Action")


def test_a_deadline_is_announced_30_7_and_1_days_ahead_once_each(
    app: Flask, make_user: Any, mail: Any, clock: Clock, loaded_catalogue: None
) -> None:
    subscribe(app, make_user("manager", email="eu@example.org"), jurisdictions=("EU",))
    subscribe(app, make_user("manager", email="uk@example.org"), jurisdictions=("GB",))
    subjects = []
    for moment in ("2024-01-10", "2024-01-20", "2024-01-21", "2024-02-10", "2024-02-11",
                   "2024-02-16", "2024-02-17"):  # fmt: skip
        clock.now = datetime.fromisoformat(moment).replace(hour=7, tzinfo=UTC)
        with app.app_context():
            subjects += services.raise_deadlines().subjects

    # Test DSA applies from 17 Feb 2024, and so do its three obligations.
    assert subjects == [
        "[EU] Test DSA: 3 obligations take effect in 28 days (17 Feb 2024)",
        "[EU] Test DSA: 3 obligations take effect in 7 days (17 Feb 2024)",
        "[EU] Test DSA: 3 obligations take effect in 1 day (17 Feb 2024)",
    ]
    assert send(app).sent == 3
    assert {m["To"] for m in mail.messages} == {"eu@example.org"}
    text = mail.messages[-1].get_body(("plain",)).get_content()
    assert "Art. 16" in text and "http://localhost/catalogue/test-dsa" in text


def _token(client: Any, path: str) -> str:
    from tests.conftest import csrf_token

    return str(csrf_token(client, path))


def _log_in(client: Any, email: str) -> None:
    from tests.conftest import PASSWORD, csrf_token

    client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
