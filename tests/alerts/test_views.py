"""Alert pages: subscriptions, unsubscribe links (RFC 8058), the calendar feed, the outbox page,
the CLI, and the .eml outbox used when no SMTP server is configured."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from compliance.alerts import services, tokens
from compliance.alerts.models import AlertMessage, AlertSubscription
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.auth.models import User
from compliance.extensions import db
from tests.conftest import csrf_token
from tests.reviews.conftest import entry_maker

RELEVANT = "Commission opens proceedings under Art. 16 DSA"


@pytest.fixture
def ingest(app: Flask, loaded_catalogue: None) -> Callable[..., int]:
    return entry_maker(app)


def _subscriptions(app: Flask) -> list[AlertSubscription]:
    with app.app_context():
        rows = list(db.session.scalars(select(AlertSubscription).order_by(AlertSubscription.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _subscribe(app: Flask, user: User, **scope: Any) -> AlertSubscription:
    with app.app_context():
        found = db.session.get(User, user.id)
        assert found is not None
        created = services.subscribe(
            found, services.SubscriptionInput(**scope), actor=Actor(found.id, found.email)
        )
        db.session.refresh(created)
        db.session.expunge(created)
        return created


# -- subscriptions --------------------------------------------------------------------------


def test_a_manager_subscribes_in_the_page_and_the_edit_is_audited(
    app: Flask, client: Any, login: Any, loaded_catalogue: None
) -> None:
    login("manager", team="Policy", email="m@example.org")
    page = client.get("/alerts/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "New subscription" in html and "Test DSA" in html and "/alerts/calendar/" in html

    response = client.post(
        "/alerts/subscriptions",
        data={
            "csrf_token": csrf_token(client, "/alerts/"),
            "cadence": "weekly",
            "jurisdictions": ["EU", "GB"],
            "topics": ["minors"],
            "team_controls": "y",
        },
    )

    assert response.status_code == 303
    [subscription] = _subscriptions(app)
    assert (subscription.kind, subscription.cadence) == ("personal", "weekly")
    assert subscription.jurisdictions == ["EU", "GB"] and subscription.topics == ["minors"]
    assert subscription.team_controls and subscription.team == "Policy"
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert "alert.subscribed" in actions


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("jurisdictions", "XX", "jurisdictions: unknown XX"),
        ("topics", "no-such-topic", "topics: unknown no-such-topic"),
        ("regulations", "no-such-act", "regulations: unknown no-such-act"),
        ("profile_id", "999", "profile: unknown 999"),
        ("cadence", "hourly", "cadence"),
    ],
)
def test_bad_scopes_are_refused_and_nothing_is_saved(
    app: Flask, client: Any, login: Any, loaded_catalogue: None, field: str, value: str,
    problem: str,
) -> None:  # fmt: skip
    login("manager", email="m@example.org")
    data = {"csrf_token": csrf_token(client, "/alerts/"), "cadence": "daily", field: value}

    response = client.post("/alerts/subscriptions", data=data, follow_redirects=True)

    assert problem in response.get_data(as_text=True)
    assert _subscriptions(app) == []


def test_team_controls_need_a_team(app: Flask, login: Any, client: Any) -> None:
    login("manager", email="m@example.org")  # no team
    response = client.post(
        "/alerts/subscriptions",
        data={
            "csrf_token": csrf_token(client, "/alerts/"),
            "cadence": "daily",
            "team_controls": "y",
        },  # fmt: skip
        follow_redirects=True,
    )
    assert "no team to take controls from" in response.get_data(as_text=True)
    assert _subscriptions(app) == []


def test_roles_are_enforced_on_the_server(
    app: Flask, client: Any, login: Any, make_user: Any
) -> None:
    other = _subscribe(app, make_user("manager", email="other@example.org"))
    login("auditor", email="a@example.org")
    assert client.get("/alerts/").status_code == 403
    assert client.get("/alerts/admin").status_code == 403

    manager = app.test_client()
    manager.get("/login")
    from tests.conftest import PASSWORD

    make_user("manager", email="m@example.org")
    manager.post("/login", data={"email": "m@example.org", "password": PASSWORD,
                                 "csrf_token": csrf_token(manager)})  # fmt: skip
    assert manager.get("/alerts/admin").status_code == 403
    assert manager.get(f"/alerts/subscriptions/{other.id}").status_code == 404  # not theirs
    token = csrf_token(manager, "/alerts/")
    assert (
        manager.post(
            f"/alerts/subscriptions/{other.id}/delete", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert manager.post("/alerts/admin/team-lists", data={"csrf_token": token}).status_code == 403
    # And forms without a CSRF token are refused.
    assert manager.post("/alerts/subscriptions", data={"cadence": "daily"}).status_code in (
        302,
        303,
        400,
    )
    assert len(_subscriptions(app)) == 1


def test_an_admin_subscribes_a_team_list(app: Flask, client: Any, login: Any) -> None:
    login("admin", email="root@example.org")
    token = csrf_token(client, "/alerts/admin")

    bad = client.post(
        "/alerts/admin/team-lists",
        data={"csrf_token": token, "cadence": "daily", "address": "not an address"},
        follow_redirects=True,
    )
    good = client.post(
        "/alerts/admin/team-lists",
        data={
            "csrf_token": token,
            "cadence": "daily",
            "address": "T-S@Example.org",
            "team": "Trust & Safety Operations",
        },  # fmt: skip
        follow_redirects=True,
    )

    assert "valid e-mail address" in bad.get_data(as_text=True)
    assert "Team list t-s@example.org subscribed" in good.get_data(as_text=True)
    [subscription] = _subscriptions(app)
    assert (subscription.kind, subscription.address, subscription.user_id) == (
        "team-list",
        "t-s@example.org",
        None,
    )


# -- unsubscribing (RFC 8058) -------------------------------------------------------------------


def _token_of(app: Flask, subscription: AlertSubscription) -> str:
    with app.test_request_context():
        return tokens.unsubscribe_token(subscription.id, subscription.unsubscribe_nonce)


def test_a_one_click_post_unsubscribes_without_a_login_and_the_token_works_once(
    app: Flask, make_user: Any
) -> None:
    subscription = _subscribe(app, make_user("manager", email="m@example.org"))
    token = _token_of(app, subscription)
    client = app.test_client()  # no session, no CSRF token: a mail client's POST

    shown = client.get(f"/alerts/unsubscribe/{token}")
    assert shown.status_code == 200 and "Unsubscribe" in shown.get_data(as_text=True)
    assert _subscriptions(app)[0].active  # GET changes nothing (link scanners follow links)

    done = client.post(
        f"/alerts/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    reused = client.post(f"/alerts/unsubscribe/{token}", data="List-Unsubscribe=One-Click")

    assert done.status_code == 200 and "Unsubscribed" in done.get_data(as_text=True)
    assert reused.status_code == 410 and "already been used" in reused.get_data(as_text=True)
    [after] = _subscriptions(app)
    assert not after.active and after.unsubscribed_at is not None
    assert after.unsubscribe_nonce != subscription.unsubscribe_nonce


def test_forged_tokens_change_nothing(app: Flask, make_user: Any) -> None:
    subscription = _subscribe(app, make_user("manager", email="m@example.org"))
    good = _token_of(app, subscription)
    with app.test_request_context():
        # A genuine calendar token for the same id: signed by us, but for another purpose.
        other_purpose = tokens.calendar_token(subscription.id, subscription.unsubscribe_nonce)
    forgeries = [
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),  # a bad signature
        "WzEsImFiYyJd.forged",
        other_purpose,
        "x" * 600,
    ]
    client = app.test_client()
    for token in forgeries:
        response = client.post(f"/alerts/unsubscribe/{token}")
        assert response.status_code == 400, token
        assert "not valid" in response.get_data(as_text=True)
    assert _subscriptions(app)[0].active


def test_an_alert_carries_a_working_unsubscribe_link(
    app: Flask, ingest: Callable[..., int], make_user: Any, tmp_path: Path
) -> None:
    _subscribe(app, make_user("manager", email="m@example.org"))
    ingest(RELEVANT, guid="a")
    with app.app_context():
        from compliance.alerts import outbox

        assert outbox.send_due().sent == 1
    [eml] = list((tmp_path / "outbox").glob("*.eml"))  # no SMTP_URL: the file outbox
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    url = str(message["List-Unsubscribe"]).strip("<>")
    path = url.removeprefix("http://localhost")

    response = app.test_client().post(path, data="List-Unsubscribe=One-Click")

    assert response.status_code == 200
    assert not _subscriptions(app)[0].active


def test_messages_of_an_ended_subscription_are_cancelled_not_sent(
    app: Flask, ingest: Callable[..., int], make_user: Any, tmp_path: Path
) -> None:
    subscription = _subscribe(app, make_user("manager", email="m@example.org"))
    ingest(RELEVANT, guid="a")
    app.test_client().post(f"/alerts/unsubscribe/{_token_of(app, subscription)}")
    with app.app_context():
        from compliance.alerts import outbox

        report = outbox.send_due()
        states = db.session.scalars(select(AlertMessage.state)).all()
    assert (report.sent, report.cancelled, states) == (0, 1, ["cancelled"])
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))


# -- calendar -----------------------------------------------------------------------------------


def test_the_calendar_feed_lists_dates_in_scope_and_its_link_can_be_replaced(
    app: Flask, client: Any, login: Any, loaded_catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("compliance.clock.utcnow", lambda: datetime(2024, 1, 5, tzinfo=UTC))
    user = login("manager", email="m@example.org")
    _subscribe(app, user, jurisdictions=("EU",))
    html = client.get("/alerts/").get_data(as_text=True)
    start = html.index("http://localhost/alerts/calendar/")
    url = html[start : html.index('"', start)]
    anonymous = app.test_client()

    feed = anonymous.get(url.removeprefix("http://localhost"))

    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 3  # Test DSA's three obligations, from 17 Feb 2024
    assert {str(e["DTSTART"].dt) for e in events} == {"2024-02-17"}
    assert any("Art. 16" in str(e["SUMMARY"]) for e in events)
    assert all(str(e["URL"]).startswith("http://localhost/catalogue/obligations/") for e in events)

    client.post("/alerts/calendar/reset", data={"csrf_token": csrf_token(client, "/alerts/")})
    assert anonymous.get(url.removeprefix("http://localhost")).status_code == 404
    assert anonymous.get("/alerts/calendar/forged.ics").status_code == 404


# -- CLI ----------------------------------------------------------------------------------------


def test_the_cli_sends_and_bundles_digests(
    app: Flask, runner: Any, ingest: Callable[..., int], make_user: Any, tmp_path: Path
) -> None:
    _subscribe(app, make_user("manager", email="now@example.org"))
    _subscribe(app, make_user("manager", email="daily@example.org"), cadence="daily")
    ingest(RELEVANT, guid="a")

    sent = runner.invoke(args=["alerts", "send"])
    digest = runner.invoke(args=["alerts", "digest", "--cadence", "daily"])
    listing = runner.invoke(args=["alerts", "outbox"])

    assert sent.exit_code == 0 and sent.output.startswith("1 sent, 0 to retry, 0 failed")
    assert digest.exit_code == 0 and "1 daily digests holding 1 alerts" in digest.output
    assert "1 sent" in digest.output
    assert "2 sent" in listing.output and "daily@example.org" in listing.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    bad = runner.invoke(args=["alerts", "digest", "--cadence", "hourly"])
    assert bad.exit_code == 2


def test_a_malformed_smtp_url_fails_clearly_and_claims_nothing(
    app: Flask, runner: Any, ingest: Callable[..., int], make_user: Any
) -> None:
    _subscribe(app, make_user("manager", email="now@example.org"))
    ingest(RELEVANT, guid="a")
    app.config["SMTP_URL"] = "smtp://user:hunter2@:notaport"

    result = runner.invoke(args=["alerts", "send"])

    assert result.exit_code != 0
    assert "hunter2" not in result.output + str(result.exception)
    with app.app_context():
        assert db.session.scalars(select(AlertMessage.state)).all() == ["queued"]


def test_an_admin_sees_where_mail_goes_and_sends_a_test_message(
    app: Flask, client: Any, login: Any, smtp_server: Any
) -> None:
    login("admin", email="root@example.org")
    app.config.update(smtp_server.config)

    page = client.get("/alerts/admin").get_data(as_text=True)
    sent = client.post(
        "/alerts/admin/test-message",
        data={"csrf_token": csrf_token(client, "/alerts/admin")},
        follow_redirects=True,
    )
    smtp_server.stop()
    down = client.post(
        "/alerts/admin/test-message",
        data={"csrf_token": csrf_token(client, "/alerts/admin")},
        follow_redirects=True,
    )

    assert f"SMTP 127.0.0.1:{smtp_server.port}" in page
    assert "Test message sent to root@example.org" in sent.get_data(as_text=True)
    [message] = smtp_server.messages
    assert message["To"] == "root@example.org" and message["Message-ID"]
    assert "The test message was not sent" in down.get_data(as_text=True)
