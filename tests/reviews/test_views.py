"""The review queue, a review's page, acting on it, and unmatched entries, by role."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token
from tests.reviews.conftest import review_of

RELEVANT = "Commission opens proceedings under Art. 16 DSA"


def test_the_queue_shows_reviews_with_counts_and_filters(
    app: Flask, client: FlaskClient, ingest, login
):
    review_of(app, ingest(RELEVANT, guid="a"))
    login("manager", team="Policy")  # managers read the queue

    page = client.get("/reviews/")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert RELEVANT in html and "Test DSA" in html
    assert "Open <span" in html
    assert client.get("/reviews/?state=closed").status_code == 200
    assert "Unknown filter value" in client.get(
        "/reviews/?state=bogus", follow_redirects=True
    ).get_data(as_text=True)


def test_the_review_page_shows_reasons_impact_and_owners(
    app: Flask, client: FlaskClient, ingest, login
):
    review_id = review_of(app, ingest(RELEVANT, "<p>Text <script>alert(1)</script></p>", guid="a"))
    login("auditor")

    html = client.get(f"/reviews/{review_id}").get_data(as_text=True)

    assert "cites Art. 16 DSA" in html
    assert "TS-NA-01" in html and "Trust &amp; Safety Operations" in html
    assert "<script>alert(1)</script>" not in html
    assert 'name="decision_note"' not in html  # auditors read, never act


def test_an_officer_moves_a_review_and_a_bad_move_is_refused(
    app: Flask, client: FlaskClient, ingest, login
):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    login("officer")
    path = f"/reviews/{review_id}"

    refused = client.post(path, data={"csrf_token": csrf_token(client, path), "state": "no-action"})
    moved = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "state": "triaged", "note": "Looks real"},
    )

    assert refused.status_code == 422
    assert "write a decision note" in refused.get_data(as_text=True)
    assert moved.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "Looks real" in html and "triaged" in html


def test_acting_needs_the_permission_and_a_csrf_token(
    app: Flask, client: FlaskClient, ingest, login
):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    login("manager", team="Policy")

    token = csrf_token(client, "/reviews/")
    response = client.post(f"/reviews/{review_id}", data={"state": "triaged", "csrf_token": token})

    assert response.status_code == 403


def test_missing_csrf_is_refused(app: Flask, client: FlaskClient, ingest, login):
    review_id = review_of(app, ingest(RELEVANT, guid="a"))
    login("officer")

    response = client.post(f"/reviews/{review_id}", data={"state": "triaged"})

    assert response.status_code in (400, 422)


def test_unmatched_entries_can_be_promoted(app: Flask, client: FlaskClient, ingest, login):
    entry_id = ingest("A consultation worth a look", "No law named.", guid="c")
    login("officer")

    listing = client.get("/reviews/unmatched").get_data(as_text=True)
    promoted = client.post(
        f"/reviews/promote/{entry_id}",
        data={"csrf_token": csrf_token(client, "/reviews/unmatched")},
    )

    assert "A consultation worth a look" in listing
    assert promoted.status_code == 302
    assert review_of(app, entry_id) is not None


def test_the_entry_page_shows_sanitised_content(app: Flask, client: FlaskClient, ingest, login):
    entry_id = ingest(
        "DSA update",
        '<p onclick="x()">Hi <a href="javascript:alert(1)">bad</a><img src=x onerror=alert(1)></p>',
        guid="h",
    )
    login("manager", team="Policy")

    html = client.get(f"/feeds/entries/{entry_id}").get_data(as_text=True)

    assert "Hi" in html
    for forbidden in ("onclick", "javascript:", "onerror", "<img"):
        assert forbidden not in html
