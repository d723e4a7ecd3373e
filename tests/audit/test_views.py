"""The audit trail page: who may see it, its filters, paging and the chain check."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from compliance.audit.models import AuditEvent
from compliance.clock import today
from compliance.extensions import db


def _html(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _actions(html: str) -> list[str]:
    return re.findall(r'<span class="badge text-bg-light border citation">([^<]+)</span>', html)


@pytest.mark.parametrize("role", ["admin", "officer", "auditor"])
def test_roles_that_read_the_audit_trail_see_it(client, login, loaded_catalogue, role):
    login(role)
    html = _html(client, "/audit/")
    assert "catalogue.regulation.created" in html
    assert "Test DSA (Regulation (EU) 2022/2065)" in html
    assert "catalogue loader" in html
    assert "<details" in html
    assert "Before / after" in html
    assert "Chain intact" not in html  # verified only on request


def test_a_manager_may_not_open_the_audit_trail(client, login, loaded_catalogue):
    login("manager", team="Policy")
    assert client.get("/audit/").status_code == 403


def test_the_audit_trail_needs_a_login(client, make_user):
    make_user("admin")
    response = client.get("/audit/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_newest_first_and_paged(app, client, login, loaded_catalogue):
    login("auditor")
    with app.app_context():
        newest = db.session.scalar(db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        total = db.session.scalar(db.select(db.func.count(AuditEvent.id)))
    app.config["PAGE_SIZE"] = 3
    first = _html(client, "/audit/")
    assert _actions(first)[0] == newest.action  # the auditor's login made the newest event
    assert len(_actions(first)) == 3
    assert f"1–3 of {total}" in first
    second = _html(client, "/audit/?page=2")
    assert f"4–6 of {total}" in second


def test_filters(client, login, loaded_catalogue):
    login("officer")
    actions = _actions(_html(client, "/audit/?action=catalogue.regulation"))
    assert actions == ["catalogue.regulation.created"] * 2

    actions = _actions(_html(client, "/audit/?entity_type=control"))
    assert sorted(actions) == ["control.created"] * 3

    actions = _actions(_html(client, "/audit/?actor=LOADER&action=mapping."))
    assert actions == ["mapping.created"] * 2

    assert _actions(_html(client, "/audit/?actor=OFFICER@example")) == ["user.logged-in"]

    tomorrow = (today() + timedelta(days=1)).isoformat()
    html = _html(client, f"/audit/?from={tomorrow}")
    assert _actions(html) == []
    assert "No event matches these filters" in html
    html = _html(client, f"/audit/?to={today().isoformat()}&action=catalogue.")
    assert "catalogue.regulation.created" in html


def test_a_filter_with_a_percent_sign_is_literal(client, login, loaded_catalogue):
    login("officer")
    assert _actions(_html(client, "/audit/?action=%25")) == []


def test_a_bad_date_is_explained_not_a_500(client, login, loaded_catalogue):
    login("auditor")
    html = _html(client, "/audit/?from=yesterday")
    assert "&#39;from&#39; must be a date written YYYY-MM-DD" in html
    assert "catalogue.regulation.created" in html  # the unfiltered trail
    html = _html(client, "/audit/?from=2030-01-02&to=2030-01-01")
    assert "must not be after" in html


def test_verify_reports_an_intact_chain(client, login, loaded_catalogue):
    login("auditor")
    response = client.get("/audit/?verify=1&entity_type=control")
    assert response.status_code == 302
    assert response.headers["Location"] == "/audit/?entity_type=control"
    html = _html(client, response.headers["Location"])
    assert "Chain intact:" in html
    assert "events checked; none was altered or removed" in html
    assert "Chain intact" not in _html(client, "/audit/")  # said once
    response = client.get("/audit/?verify=1&_scheme=ftp&_external=1")
    assert response.headers["Location"] == "/audit/"


def test_verify_names_the_first_altered_event(app, client, login, loaded_catalogue):
    login("auditor")
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).order_by(AuditEvent.id).offset(2).limit(1))
        event_id = event.id
        event.summary = "rewritten history"
        db.session.commit()
    html = client.get("/audit/?verify=1&action=catalogue.", follow_redirects=True).get_data(
        as_text=True
    )
    assert f"Chain broken at event {event_id}" in html
    assert "its content does not match its hash" in html
