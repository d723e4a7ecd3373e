"""The feed sources pages: admins add, edit, enable and disable; others read or are refused."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from compliance.extensions import db
from compliance.feeds.models import FeedSource
from tests.conftest import csrf_token
from tests.feeds.conftest import add


def _source(app: Flask, url: str) -> FeedSource:
    with app.app_context():
        found = db.session.scalar(select(FeedSource).filter_by(url=url))
        assert found is not None
        db.session.expunge(found)
        return found


def test_an_admin_adds_a_source_through_the_form(app: Flask, client: FlaskClient, login):
    login("admin")

    response = client.post(
        "/feeds/new",
        data={
            "csrf_token": csrf_token(client, "/feeds/new"),
            "url": "https://regulator.example/rss",
            "name": "Regulator news",
            "interval_minutes": "120",
            "enabled": "y",
        },
    )

    assert response.status_code == 302
    found = _source(app, "https://regulator.example/rss")
    assert (found.name, found.interval_minutes, found.origin) == ("Regulator news", 120, "admin")
    page = client.get("/feeds/").get_data(as_text=True)
    assert "Regulator news" in page and "not polled yet" in page


def test_a_private_address_is_refused_on_the_form(client: FlaskClient, login):
    login("admin")

    response = client.post(
        "/feeds/new",
        data={"csrf_token": csrf_token(client, "/feeds/new"), "url": "http://169.254.169.254/"},
    )

    assert response.status_code == 422
    assert "cloud metadata address" in response.get_data(as_text=True)


def test_an_admin_disables_edits_and_re_enables_a_source(app: Flask, client: FlaskClient, login):
    source_id = add(app, "https://regulator.example/rss", name="News")
    login("admin")
    path = f"/feeds/{source_id}"

    client.post(f"{path}/toggle", data={"csrf_token": csrf_token(client, path), "enabled": "no"})
    assert _source(app, "https://regulator.example/rss").enabled is False
    client.post(
        f"{path}/edit",
        data={"csrf_token": csrf_token(client, path), "name": "Renamed", "interval_minutes": "90"},
    )
    client.post(f"{path}/toggle", data={"csrf_token": csrf_token(client, path), "enabled": "yes"})

    found = _source(app, "https://regulator.example/rss")
    assert (found.enabled, found.name, found.interval_minutes) == (True, "Renamed", 90)
    assert (
        client.post(f"{path}/poll", data={"csrf_token": csrf_token(client, path)}).status_code
        == 302
    )


def test_roles(app: Flask, client: FlaskClient, login):
    source_id = add(app, "https://regulator.example/rss", name="News")
    login("auditor")

    assert client.get("/feeds/").status_code == 200
    assert client.get(f"/feeds/{source_id}").status_code == 200
    assert client.get("/feeds/new").status_code == 403
    token = csrf_token(client, "/feeds/")
    toggled = client.post(f"/feeds/{source_id}/toggle", data={"enabled": "no", "csrf_token": token})
    assert toggled.status_code == 403


def test_managers_do_not_see_sources(client: FlaskClient, login):
    login("manager", team="Policy")

    assert client.get("/feeds/").status_code == 403


def test_a_flagged_source_is_shown_to_admins(app: Flask, client: FlaskClient, login):
    from compliance.clock import utcnow

    source_id = add(app, "https://regulator.example/rss", name="Broken feed")
    with app.app_context():
        found = db.session.get(FeedSource, source_id)
        found.flagged_at = found.failing_since = utcnow()
        found.last_status, found.last_error, found.consecutive_failures = "failed", "HTTP 500", 9
        db.session.commit()
    login("admin")

    html = client.get("/feeds/").get_data(as_text=True)

    assert "failing for 7 days or more" in html and "Broken feed" in html and "HTTP 500" in html
