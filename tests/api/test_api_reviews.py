"""The change-review and feed-source endpoints: shapes match the OpenAPI document, roles hold."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import assert_error, assert_matches, bearer
from tests.reviews.conftest import entry_maker, review_of

RELEVANT = "Commission opens proceedings under Art. 16 DSA"


@pytest.fixture
def ingest(app: Flask, loaded_catalogue: None):
    return entry_maker(app)


def test_list_and_get_reviews(app: Flask, client: FlaskClient, ingest, token_for):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    token = token_for("manager", team="Policy")

    listed = client.get("/api/v1/reviews", headers=bearer(token))
    one = client.get(f"/api/v1/reviews/{review_id}", headers=bearer(token))

    assert listed.status_code == 200
    assert_matches("ReviewPage", listed.get_json())
    assert listed.get_json()["items"][0]["regulations"] == ["test-dsa"]
    assert one.status_code == 200
    body = one.get_json()
    assert_matches("Review", body)
    assert "cites Art. 16 DSA" in body["matches"][0]["reasons"]
    controls = [c for o in body["impact"][0]["obligations"] if o["cited"] for c in o["controls"]]
    assert controls == [
        {
            "code": "TS-NA-01",
            "owner_team": "Trust & Safety Operations",
            "status": controls[0]["status"],
        }
    ]
    assert_error(client.get("/api/v1/reviews/999", headers=bearer(token)), 404)
    assert_error(client.get("/api/v1/reviews?state=bogus", headers=bearer(token)), 422)


def test_an_officer_patches_a_review(app: Flask, client: FlaskClient, ingest, token_for, make_user):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    token = token_for("officer", email="lead@example.org")
    path = f"/api/v1/reviews/{review_id}"

    triaged = client.patch(
        path,
        json={"state": "triaged", "assignee": "lead@example.org", "due_on": "2030-01-31"},
        headers=bearer(token),
    )

    assert triaged.status_code == 200, triaged.get_json()
    body = triaged.get_json()
    assert_matches("Review", body)
    assert (body["state"], body["assignee"], body["due_on"]) == (
        "triaged",
        "lead@example.org",
        "2030-01-31",
    )
    refused = assert_error(client.patch(path, json={"state": "closed"}, headers=bearer(token)), 422)
    assert "can move to: assessing, no action" in refused["message"]
    bad = assert_error(
        client.patch(path, json={"state": 3, "due_on": "soon", "extra": 1}, headers=bearer(token)),
        422,
    )
    assert len(bad["details"]) == 3
    assert_error(client.patch(path, data="nope", headers=bearer(token)), 400)
    unknown = client.patch(path, json={"assignee": "ghost@example.org"}, headers=bearer(token))
    assert_error(unknown, 422)


def test_readers_cannot_patch(app: Flask, client: FlaskClient, ingest, token_for):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))

    for role in ("auditor", "manager"):
        token = token_for(role, email=f"{role}@example.org", team="Policy")
        response = client.patch(
            f"/api/v1/reviews/{review_id}", json={"state": "triaged"}, headers=bearer(token)
        )
        assert_error(response, 403)


def test_admins_add_list_and_change_feed_sources(client: FlaskClient, token_for):
    admin = token_for("admin")

    created = client.post(
        "/api/v1/feeds",
        json={"url": "https://regulator.example/rss", "name": "News", "interval_minutes": 120},
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert_matches("FeedSource", body)
    assert created.headers["Location"] == f"/api/v1/feeds/{body['id']}"

    listed = client.get("/api/v1/feeds", headers=bearer(admin))
    assert_matches("FeedSourcePage", listed.get_json())
    changed = client.patch(
        f"/api/v1/feeds/{body['id']}", json={"enabled": False}, headers=bearer(admin)
    )
    assert changed.get_json()["enabled"] is False
    assert_matches(
        "FeedSource", client.get(f"/api/v1/feeds/{body['id']}", headers=bearer(admin)).get_json()
    )

    assert_error(
        client.post("/api/v1/feeds", json={"url": "http://10.0.0.1/feed"}, headers=bearer(admin)),
        422,
    )
    assert_error(
        client.post(
            "/api/v1/feeds", json={"url": "https://regulator.example/rss"}, headers=bearer(admin)
        ),
        409,
    )
    assert_error(
        client.post(
            "/api/v1/feeds",
            json={"url": "https://x.example/", "enabled": "yes"},
            headers=bearer(admin),
        ),
        422,
    )


def test_officers_read_feeds_but_only_admins_change_them(client: FlaskClient, token_for):
    officer = token_for("officer")

    assert client.get("/api/v1/feeds", headers=bearer(officer)).status_code == 200
    assert_error(
        client.post("/api/v1/feeds", json={"url": "https://x.example/"}, headers=bearer(officer)),
        403,
    )
    manager = token_for("manager", email="m@example.org", team="Policy")
    assert_error(client.get("/api/v1/feeds", headers=bearer(manager)), 403)
