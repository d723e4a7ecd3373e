"""The control, mapping and gap pages: what each role sees, and every write they may make."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.auth.models import User
from compliance.catalogue.models import Obligation, Regulation
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping
from tests.conftest import PASSWORD, csrf_token

CONTROL_FORM = {
    "code": "ts-ra-09",
    "title": "Yearly systemic risk assessment",
    "description": "Assess the systemic risks of the service once a year.",
    "domain": "risk-assessment",
    "owner_team": "Policy",
    "status": "planned",
    "review_interval_days": "180",
    "last_reviewed_on": "2024-01-31",
    "evidence_links": "https://wiki.example.com/risk\n\nhttp://tickets.example.com/RA-1\n",
}
MAPPING_FORM = {
    "relationship_type": "intersects-with",
    "strength": "7",
    "rationale_type": "functional",
    "coverage": "partial",
    "note": "Covers the reporting part.",
}


def _obligation_id(app: Flask, slug: str, key: str) -> int:
    with app.app_context():
        found = db.session.scalar(
            select(Obligation.id)
            .join(Obligation.regulation)
            .where(Regulation.slug == slug, Obligation.key == key)
        )
        assert found is not None
        return found


def _control_id(app: Flask, code: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Control.id).filter_by(code=code))
        assert found is not None
        return found


def _mapping_id(app: Flask, code: str, slug: str, key: str) -> int:
    obligation_id = _obligation_id(app, slug, key)
    with app.app_context():
        found = db.session.scalar(
            select(ControlMapping.id)
            .join(ControlMapping.control)
            .where(Control.code == code, ControlMapping.obligation_id == obligation_id)
        )
        assert found is not None
        return found


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            "controls": db.session.scalar(select(func.count(Control.id))) or 0,
            "mappings": db.session.scalar(select(func.count(ControlMapping.id))) or 0,
            "events": db.session.scalar(select(func.count(AuditEvent.id))) or 0,
            "retired": db.session.scalar(
                select(func.count(Control.id)).where(Control.retired_at.is_not(None))
            )
            or 0,
            "approved": db.session.scalar(
                select(func.count(ControlMapping.id)).filter_by(state="approved")
            )
            or 0,
        }


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _new_events(app: Flask, before: int) -> list[str]:
    return _actions(app)[before:]


def _client_as(
    app: Flask, make_user: Callable[..., User], role: str, team: str = ""
) -> FlaskClient:
    """A second, separately logged-in client, for tests that need two people."""
    user = make_user(role, email=f"{role}-{team or 'none'}@example.org".replace(" ", ""), team=team)
    other = app.test_client()
    token = csrf_token(other)
    response = other.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return other


def _post(client: FlaskClient, path: str, data: dict[str, Any], token_page: str = "") -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_page or path)})


# -- officers create controls and mappings ----------------------------------------------------


def test_officer_creates_a_control_and_maps_it(app, client, login, loaded_catalogue):
    login("officer")
    before = _counts(app)

    response = _post(client, "/controls/new", CONTROL_FORM)

    assert response.status_code == 302
    control_id = _control_id(app, "TS-RA-09")
    assert response.headers["Location"] == f"/controls/{control_id}"
    assert _new_events(app, before["events"]) == ["control.created"]
    with app.app_context():
        control = db.session.get(Control, control_id)
        assert control.owner_team == "Policy"
        assert control.review_interval_days == 180
        assert control.evidence_links == [
            "https://wiki.example.com/risk",
            "http://tickets.example.com/RA-1",
        ]
    page = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert "Yearly systemic risk assessment" in page
    assert "https://wiki.example.com/risk" in page
    assert "This control serves no obligation yet" in page

    obligation_id = _obligation_id(app, "test-dsa", "art-28")
    events = _counts(app)["events"]
    form_page = client.get(f"/controls/{control_id}/mappings/new").get_data(as_text=True)
    assert '<optgroup label="Test DSA">' in form_page
    response = _post(
        client,
        f"/controls/{control_id}/mappings/new",
        {**MAPPING_FORM, "obligation_id": str(obligation_id)},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/controls/{control_id}"
    assert _new_events(app, events) == ["mapping.created"]
    page = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert "Art. 28(1)" in page
    assert f'href="/catalogue/obligations/{obligation_id}"' in page
    assert "intersects-with" in page
    assert "Covers the reporting part." in page
    obligation_page = client.get(f"/catalogue/obligations/{obligation_id}")
    assert obligation_page.status_code == 200
    assert "TS-RA-09" in obligation_page.get_data(as_text=True)
    with app.app_context():
        mapping = db.session.scalar(select(ControlMapping).filter_by(control_id=control_id))
        assert (mapping.obligation_id, mapping.strength, mapping.state) == (
            obligation_id,
            7,
            "proposed",
        )
        assert mapping.created_by_id is not None


def test_a_mapping_started_on_an_obligation_returns_there(app, client, login, loaded_catalogue):
    login("officer")
    obligation_id = _obligation_id(app, "test-osa", "s-12")
    control_id = _control_id(app, "TS-AA-01")
    path = f"/obligations/{obligation_id}/mappings/new"
    form_page = client.get(path).get_data(as_text=True)
    assert "TS-AA-01 — Age estimation at sign-up" in form_page
    events = _counts(app)["events"]

    response = _post(client, path, {**MAPPING_FORM, "control_id": str(control_id)})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/catalogue/obligations/{obligation_id}"
    assert _new_events(app, events) == ["mapping.created"]


def test_mapping_the_same_pair_twice_is_a_clear_conflict(app, client, login, loaded_catalogue):
    login("officer")
    obligation_id = _obligation_id(app, "test-dsa", "art-16")
    control_id = _control_id(app, "TS-NA-01")  # the catalogue already maps this pair
    before = _counts(app)

    response = _post(
        client,
        f"/controls/{control_id}/mappings/new",
        {**MAPPING_FORM, "obligation_id": str(obligation_id)},
    )

    assert response.status_code == 409
    assert "TS-NA-01 is already mapped to Test DSA Art. 16." in response.get_data(as_text=True)
    assert "alert-danger" in response.get_data(as_text=True)
    assert _counts(app) == before
    with app.app_context():
        pairs = select(func.count(ControlMapping.id)).filter_by(
            obligation_id=obligation_id, control_id=control_id
        )
        assert db.session.scalar(pairs) == 1


def test_the_obligation_list_narrows_by_words(app, client, login, loaded_catalogue):
    login("officer")
    control_id = _control_id(app, "TS-AA-01")

    page = client.get(f"/controls/{control_id}/mappings/new?q=osa+children").get_data(as_text=True)

    assert "Children&#39;s safety duties" in page or "Children's safety duties" in page
    assert "Art. 28(1)" not in page
    nothing = client.get(f"/controls/{control_id}/mappings/new?q=zzzz").get_data(as_text=True)
    assert "No live obligation matches" in nothing


# -- invalid input saves nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evidence_links": "https://ok.example.com\nftp://files.example.com/x"}, "ftp://files"),
        ({"evidence_links": "javascript:alert(1)"}, "is not an http:// or https:// address"),
        ({"domain": "astrology"}, "Not a valid choice"),
        ({"status": "done"}, "Not a valid choice"),
        ({"review_interval_days": "0"}, "Number must be between 1 and 3650"),
        ({"code": ""}, "This field is required"),
        ({"code": "TS NA"}, "Letters, digits"),
    ],
)
def test_an_invalid_control_shows_the_error_and_saves_nothing(
    app, client, login, loaded_catalogue, change, message
):
    login("officer")
    before = _counts(app)

    response = _post(client, "/controls/new", {**CONTROL_FORM, **change})

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert "is-invalid" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_a_duplicate_control_code_is_a_conflict(app, client, login, loaded_catalogue):
    login("officer")
    before = _counts(app)

    response = _post(client, "/controls/new", {**CONTROL_FORM, "code": "ts-na-01"})

    assert response.status_code == 409
    assert "A control with code TS-NA-01 already exists." in response.get_data(as_text=True)
    assert _counts(app) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strength": "11"}, "Number must be between 1 and 10"),
        ({"strength": "0"}, "Number must be between 1 and 10"),
        ({"relationship_type": "sort-of"}, "Not a valid choice"),
        ({"coverage": "most"}, "Not a valid choice"),
        ({"obligation_id": ""}, "Choose an obligation."),
        ({"obligation_id": "999999"}, "Not a valid choice"),
    ],
)
def test_an_invalid_mapping_shows_the_error_and_saves_nothing(
    app, client, login, loaded_catalogue, change, message
):
    login("officer")
    control_id = _control_id(app, "TS-AA-01")
    data = {**MAPPING_FORM, "obligation_id": str(_obligation_id(app, "test-osa", "s-12"))}
    before = _counts(app)

    response = _post(client, f"/controls/{control_id}/mappings/new", {**data, **change})

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


# -- editing, retiring, approving, deleting ---------------------------------------------------


def test_officer_edits_a_control_and_its_evidence(app, client, login, loaded_catalogue):
    login("officer")
    control_id = _control_id(app, "TS-NA-01")
    form_page = client.get(f"/controls/{control_id}/edit").get_data(as_text=True)
    assert 'value="Trust &amp; Safety Operations"' in form_page
    assert '<datalist id="owner-teams">' in form_page
    assert 'name="code"' not in form_page  # a control's code never changes
    events = _counts(app)["events"]
    data = {**CONTROL_FORM, "code": "CHANGED", "title": "Notice intake form, v2"}

    response = _post(client, f"/controls/{control_id}/edit", data)

    assert response.status_code == 302
    assert _new_events(app, events) == ["control.updated"]
    with app.app_context():
        control = db.session.get(Control, control_id)
        assert (control.code, control.title) == ("TS-NA-01", "Notice intake form, v2")
        assert control.evidence_links[0] == "https://wiki.example.com/risk"
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert event.before["evidence_links"] == []
        assert event.after["evidence_links"][1] == "http://tickets.example.com/RA-1"


def test_retiring_and_restoring_a_control(app, client, login, loaded_catalogue):
    login("officer")
    control_id = _control_id(app, "TS-AA-01")
    events = _counts(app)["events"]

    response = _post(client, f"/controls/{control_id}/retire", {"retired": "yes"})

    assert response.status_code == 302
    page = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert "This control was retired on" in page
    assert "Map to an obligation" not in page
    assert "TS-AA-01" not in client.get("/controls").get_data(as_text=True)
    assert "TS-AA-01" in client.get("/controls?retired=1").get_data(as_text=True)
    assert client.get(f"/controls/{control_id}/mappings/new").status_code == 302

    _post(client, f"/controls/{control_id}/retire", {"retired": "no"})

    assert _new_events(app, events) == ["control.retired", "control.restored"]
    assert _counts(app)["retired"] == 0


def test_approving_then_editing_a_mapping(app, client, login, loaded_catalogue):
    officer = login("officer")
    mapping_id = _mapping_id(app, "TS-NA-01", "test-dsa", "art-16")
    control_id = _control_id(app, "TS-NA-01")
    edit_path = f"/mappings/{mapping_id}/edit?next=/controls/{control_id}"
    assert "Approve" in client.get(edit_path).get_data(as_text=True)
    events = _counts(app)["events"]

    response = _post(client, f"/mappings/{mapping_id}/state", {"state": "approved"}, edit_path)

    assert response.status_code == 302
    assert _new_events(app, events) == ["mapping.approved"]
    with app.app_context():
        mapping = db.session.get(ControlMapping, mapping_id)
        assert mapping.state == "approved"
        assert mapping.approved_by_id == officer.id
        assert mapping.approved_at is not None
    assert "Send back to proposed" in client.get(edit_path).get_data(as_text=True)

    response = _post(client, edit_path, {**MAPPING_FORM, "strength": "3"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/controls/{control_id}"
    assert _new_events(app, events) == ["mapping.approved", "mapping.updated"]
    with app.app_context():
        mapping = db.session.get(ControlMapping, mapping_id)
        assert (mapping.state, mapping.strength) == ("proposed", 3)
        assert (mapping.approved_by_id, mapping.approved_at) == (None, None)
    flashed = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert "sends it back to proposed" in flashed


def test_sending_an_approved_mapping_back(app, client, login, loaded_catalogue):
    login("officer")
    mapping_id = _mapping_id(app, "TS-TR-01", "test-dsa", "art-15")
    path = f"/mappings/{mapping_id}/edit"
    _post(client, f"/mappings/{mapping_id}/state", {"state": "approved"}, path)
    events = _counts(app)["events"]

    _post(client, f"/mappings/{mapping_id}/state", {"state": "proposed"}, path)

    assert _new_events(app, events) == ["mapping.reopened"]
    assert _counts(app)["approved"] == 0


def test_deleting_a_mapping_asks_first_and_leaves_an_audit_event(
    app, client, login, loaded_catalogue
):
    login("officer")
    mapping_id = _mapping_id(app, "TS-TR-01", "test-dsa", "art-15")
    obligation_id = _obligation_id(app, "test-dsa", "art-15")
    path = f"/mappings/{mapping_id}/delete?next=/catalogue/obligations/{obligation_id}"
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Delete this mapping?" in confirm.get_data(as_text=True)
    before = _counts(app)
    assert before["mappings"] == 2

    response = _post(client, path, {})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/catalogue/obligations/{obligation_id}"
    assert _counts(app)["mappings"] == 1
    assert _new_events(app, before["events"]) == ["mapping.deleted"]
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert event.before["control"] == "TS-TR-01"
        assert event.before["obligation"] == "test-dsa/art-15"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_site(app, client, login, loaded_catalogue, target):
    login("officer")
    mapping_id = _mapping_id(app, "TS-TR-01", "test-dsa", "art-15")
    control_id = _control_id(app, "TS-TR-01")
    path = f"/mappings/{mapping_id}/edit?next={target}"

    response = _post(client, path, MAPPING_FORM)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/controls/{control_id}"


def test_missing_records_are_404(app, client, login, loaded_catalogue):
    login("officer")
    for path in ["/controls/999", "/controls/999/edit", "/mappings/999/edit"]:
        assert client.get(path).status_code == 404
    assert client.get("/obligations/999/mappings/new").status_code == 404


# -- who may write ----------------------------------------------------------------------------


def _write_requests(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    """One POST for every write endpoint, each with otherwise valid data."""
    control_id = _control_id(app, "TS-AA-01")
    obligation_id = _obligation_id(app, "test-osa", "s-12")
    mapping_id = _mapping_id(app, "TS-TR-01", "test-dsa", "art-15")
    return [
        ("/controls/new", CONTROL_FORM),
        (f"/controls/{control_id}/edit", CONTROL_FORM),
        (f"/controls/{control_id}/retire", {"retired": "yes"}),
        (f"/controls/{control_id}/mappings/new", {**MAPPING_FORM, "obligation_id": obligation_id}),
        (f"/obligations/{obligation_id}/mappings/new", {**MAPPING_FORM, "control_id": control_id}),
        (f"/mappings/{mapping_id}/edit", {**MAPPING_FORM, "strength": "2"}),
        (f"/mappings/{mapping_id}/state", {"state": "approved"}),
        (f"/mappings/{mapping_id}/delete", {}),
    ]


@pytest.mark.parametrize(("role", "team"), [("auditor", ""), ("manager", "Product Safety")])
def test_read_only_roles_cannot_write(app, client, login, loaded_catalogue, role, team):
    login(role, team=team)
    token = csrf_token(client, "/controls")
    before = _counts(app)

    for path, data in _write_requests(app):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403, path

    assert _counts(app) == before


def test_a_post_without_its_csrf_token_is_refused(app, client, login, loaded_catalogue):
    login("officer")
    before = _counts(app)

    for path, data in _write_requests(app):
        response = client.post(path, data=data)
        assert response.status_code == 400, path

    assert _counts(app) == before


def test_read_only_roles_see_no_write_buttons(app, client, login, loaded_catalogue):
    login("auditor")
    control_id = _control_id(app, "TS-NA-01")

    page = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert "Notice intake form" in page
    assert "Map to an obligation" not in page
    assert "/retire" not in page
    assert "New control" not in client.get("/controls").get_data(as_text=True)
    assert "Add mapping" not in client.get("/gaps").get_data(as_text=True)
    assert client.get("/controls/new").status_code == 403


# -- the controls list ------------------------------------------------------------------------


def test_the_controls_list_for_an_officer(app, client, login, loaded_catalogue):
    login("officer")

    page = client.get("/controls").get_data(as_text=True)

    for code in ("TS-NA-01", "TS-TR-01", "TS-AA-01"):
        assert code in page
    assert "New control" in page
    assert "review due" in page  # nothing in the test library has been reviewed
    assert page.index("TS-AA-01") < page.index("TS-NA-01") < page.index("TS-TR-01")
    descending = client.get("/controls?sort=code&dir=desc").get_data(as_text=True)
    assert descending.index("TS-TR-01") < descending.index("TS-AA-01")


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("domain=age-assurance", "TS-AA-01", "TS-NA-01"),
        ("status=partial", "TS-TR-01", "TS-AA-01"),
        ("owner=Policy", "TS-TR-01", "TS-NA-01"),
        ("q=intake", "TS-NA-01", "TS-TR-01"),
    ],
)
def test_the_controls_list_filters(app, client, login, loaded_catalogue, query, shown, hidden):
    login("auditor")

    page = client.get(f"/controls?{query}").get_data(as_text=True)

    assert shown in page
    assert hidden not in page


def test_no_control_matches_shows_how_to_clear(app, client, login, loaded_catalogue):
    login("officer")

    page = client.get("/controls?q=nothing-like-this").get_data(as_text=True)

    assert "No control matches these filters" in page


def test_the_review_flag_follows_the_interval(app, client, login, loaded_catalogue):
    login("officer")
    control_id = _control_id(app, "TS-NA-01")
    recent = {**CONTROL_FORM, "last_reviewed_on": "2999-01-01", "review_interval_days": "30"}
    _post(client, f"/controls/{control_id}/edit", recent)

    page = client.get(f"/controls/{control_id}").get_data(as_text=True)

    assert "2999-01-01" in page
    assert "review due" not in page


def test_a_manager_sees_only_their_team(app, client, login, loaded_catalogue):
    login("manager", team="Policy")

    page = client.get("/controls").get_data(as_text=True)

    assert "TS-TR-01" in page
    assert "TS-NA-01" not in page
    assert "TS-AA-01" not in page
    assert "You see only the controls your team, <strong>Policy</strong>, owns." in page
    # Asking for another team's controls changes nothing.
    assert "TS-NA-01" not in client.get("/controls?owner=Trust+%26+Safety+Operations").get_data(
        as_text=True
    )
    assert client.get(f"/controls/{_control_id(app, 'TS-TR-01')}").status_code == 200
    assert client.get(f"/controls/{_control_id(app, 'TS-NA-01')}").status_code == 403


def test_a_manager_without_a_team_is_told_what_to_do(app, client, login, loaded_catalogue):
    login("manager")

    page = client.get("/controls").get_data(as_text=True)

    assert "Ask an administrator to set your team" in page
    assert "TS-TR-01" not in page
    assert client.get(f"/controls/{_control_id(app, 'TS-TR-01')}").status_code == 403
    assert "Ask an administrator to set your team" in client.get("/gaps").get_data(as_text=True)


def test_an_empty_controls_list_says_what_to_do(app, client, login):
    login("officer")

    page = client.get("/controls").get_data(as_text=True)

    assert "No controls yet" in page
    assert "Add the first control" in page


# -- gaps -------------------------------------------------------------------------------------


def test_the_gap_view(app, client, login, loaded_catalogue):
    login("officer")
    art_28 = _obligation_id(app, "test-dsa", "art-28")

    page = client.get("/gaps").get_data(as_text=True)

    assert "Art. 28(1)" in page
    assert "s. 12" in page
    assert "Art. 16" not in page  # mapped to TS-NA-01
    assert 'Obligations with no control\n      <span class="badge text-bg-danger">2</span>' in page
    assert f"/obligations/{art_28}/mappings/new" in page
    assert "TS-AA-01" in page
    assert "TS-NA-01" not in page
    assert "Controls that serve no obligation" in page


def test_the_gap_view_filters_by_jurisdiction(app, client, login, loaded_catalogue):
    login("auditor")

    page = client.get("/gaps?jurisdiction=gb").get_data(as_text=True)

    assert "s. 12" in page
    assert "Art. 28(1)" not in page
    unknown = client.get("/gaps?jurisdiction=XX")
    assert unknown.status_code == 200
    assert "Art. 28(1)" in unknown.get_data(as_text=True)
    assert "XX" in unknown.get_data(as_text=True)


def test_the_gap_view_pages_each_list_apart(app, client, login, loaded_catalogue):
    app.config["PAGE_SIZE"] = 1
    login("officer")

    first = client.get("/gaps").get_data(as_text=True)
    second = client.get("/gaps?opage=2").get_data(as_text=True)

    assert "Art. 28(1)" in first  # Test DSA sorts before Test OSA
    assert "s. 12" not in first
    assert "s. 12" in second
    assert "opage=2" in first
    assert "TS-AA-01" in second  # the other list stays on its own first page


def test_a_manager_sees_only_their_teams_orphans(app, client, login, loaded_catalogue):
    login("manager", team="Policy")

    page = client.get("/gaps").get_data(as_text=True)

    assert "TS-AA-01" not in page
    assert "Every control serves at least one obligation" in page
    assert "Add mapping" not in page


def test_an_empty_gap_view_congratulates(app, client, login, make_user, loaded_catalogue):
    login("officer")
    for key, code in (("art-28", "TS-AA-01"), ("s-12", "TS-AA-01")):
        slug = "test-osa" if key == "s-12" else "test-dsa"
        path = f"/obligations/{_obligation_id(app, slug, key)}/mappings/new"
        response = _post(client, path, {**MAPPING_FORM, "control_id": _control_id(app, code)})
        assert response.status_code == 302

    page = client.get("/gaps").get_data(as_text=True)

    assert "Every live obligation has a control. Well done." in page
    assert "Every control serves at least one obligation. Well done." in page
    # An auditor reads the same page.
    auditor = _client_as(app, make_user, "auditor")
    assert "Well done" in auditor.get("/gaps").get_data(as_text=True)
