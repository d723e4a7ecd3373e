"""Creating, changing and removing mappings through the JSON API."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from compliance.auth.roles import ROLE_PERMISSIONS, Permission
from compliance.extensions import db
from compliance.mapping.models import ControlMapping
from tests.api.conftest import (
    assert_error,
    assert_matches,
    audit_actions,
    bearer,
    control_id,
    obligation_id,
)

OFFICER = "officer@example.org"


@pytest.fixture
def ids(app, loaded_catalogue):
    with app.app_context():
        return {
            "art-28": obligation_id("test-dsa/art-28"),
            "art-16": obligation_id("test-dsa/art-16"),
            "TS-AA-01": control_id("TS-AA-01"),
            "TS-NA-01": control_id("TS-NA-01"),
        }


@pytest.fixture
def officer(token_for, loaded_catalogue):
    return bearer(token_for("officer", email=OFFICER))


def _body(ids, **changes):
    return {
        "obligation_id": ids["art-28"],
        "control_id": ids["TS-AA-01"],
        "relationship": "intersects-with",
        "strength": 6,
        "rationale_type": "functional",
        "coverage": "partial",
        "note": "Age estimation helps find minors.",
        **changes,
    }


def _mapping_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(ControlMapping.id)))


def audit_actions_in(app):
    with app.app_context():
        return audit_actions()


def _create(client, headers, body):
    response = client.post("/api/v1/mappings", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def test_post_creates_a_mapping_with_a_location_and_an_audit_event(app, client, officer, ids):
    response = _create(client, officer, _body(ids))

    body = response.get_json()
    assert_matches("Mapping", body)
    assert body["obligation"]["path"] == "test-dsa/art-28"
    assert body["control"]["code"] == "TS-AA-01"
    assert (body["relationship"], body["strength"], body["state"]) == (
        "intersects-with",
        6,
        "proposed",
    )
    assert body["created_by"] == OFFICER
    assert response.headers["Location"].endswith(f"/api/v1/mappings/{body['id']}")
    assert client.get(response.headers["Location"], headers=officer).get_json() == body
    with app.app_context():
        assert audit_actions()[-1] == ("mapping.created", OFFICER)


def test_post_accepts_a_control_code(client, officer, ids):
    body = _body(ids, control_code="ts-aa-01")
    del body["control_id"]

    assert _create(client, officer, body).get_json()["control"]["code"] == "TS-AA-01"


def test_a_duplicate_is_409_and_leaves_one_row(app, client, officer, ids):
    _create(client, officer, _body(ids))
    before = _mapping_count(app)

    response = client.post("/api/v1/mappings", json=_body(ids), headers=officer)

    assert "already mapped" in assert_error(response, 409)["message"]
    assert _mapping_count(app) == before


@pytest.mark.parametrize("role", ["auditor", "manager"])
def test_read_only_roles_cannot_post(app, client, token_for, ids, role):
    before = _mapping_count(app)

    response = client.post("/api/v1/mappings", json=_body(ids), headers=bearer(token_for(role)))

    assert_error(response, 403)
    assert _mapping_count(app) == before


@pytest.mark.parametrize(
    ("data", "content_type", "words"),
    [
        ('{"obligation_id": 1,', "application/json", "not valid JSON"),
        ("", "application/json", "not valid JSON"),
        ("[1, 2]", "application/json", "must be a JSON object"),
        ("obligation_id=1", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    app, client, officer, ids, data, content_type, words
):
    response = client.post(
        "/api/v1/mappings", data=data, content_type=content_type, headers=officer
    )

    assert words in assert_error(response, 400)["message"]
    assert _mapping_count(app) == 2


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"strength": "6"}, 'strength must be an integer, not "6"'),
        ({"strength": True}, "strength must be an integer, not true"),
        ({"obligation_id": None}, "obligation_id must be an integer, not null"),
        ({"note": 5}, "note must be a string, not 5"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"control_code": "TS-AA-01"}, "give exactly one of control_id and control_code"),
        ({"relationship": "twin-of"}, "relationship type must be one of"),
        ({"strength": 11}, "strength must be a whole number from 1 to 10"),
        ({"obligation_id": 99999}, "obligation_id 99999: No such obligation."),
        ({"control_id": 99999}, "control_id 99999: No such control."),
    ],
)
def test_invalid_fields_are_422_naming_the_field(app, client, officer, ids, changes, detail):
    response = client.post("/api/v1/mappings", json=_body(ids, **changes), headers=officer)

    error = assert_error(response, 422)
    assert any(d.startswith(detail) for d in error["details"]), error
    assert _mapping_count(app) == 2


def test_missing_fields_are_each_named(client, officer):
    response = client.post("/api/v1/mappings", json={"control_id": 1}, headers=officer)

    details = assert_error(response, 422)["details"]
    for name in ("obligation_id", "relationship", "strength", "rationale_type", "coverage"):
        assert f"{name} is required" in details


class TestPatch:
    @pytest.fixture
    def created(self, client, officer, ids):
        return _create(client, officer, _body(ids)).get_json()

    def test_a_partial_update_changes_only_the_fields_given(self, app, client, officer, created):
        response = client.patch(
            f"/api/v1/mappings/{created['id']}", json={"strength": 9}, headers=officer
        )

        assert response.status_code == 200
        body = response.get_json()
        assert_matches("Mapping", body)
        assert (body["strength"], body["note"]) == (9, created["note"])
        with app.app_context():
            assert audit_actions()[-1] == ("mapping.updated", OFFICER)

    def test_approving_records_who_and_when(self, app, client, officer, created):
        response = client.patch(
            f"/api/v1/mappings/{created['id']}", json={"state": "approved"}, headers=officer
        )

        body = response.get_json()
        assert (body["state"], body["approved_by"]) == ("approved", OFFICER)
        assert body["approved_at"] is not None
        with app.app_context():
            assert audit_actions()[-1] == ("mapping.approved", OFFICER)

    def test_an_edit_with_approval_leaves_it_approved(self, client, officer, created):
        url = f"/api/v1/mappings/{created['id']}"
        client.patch(url, json={"state": "approved"}, headers=officer)

        body = client.patch(url, json={"coverage": "full", "state": "approved"}, headers=officer)

        assert (body.get_json()["coverage"], body.get_json()["state"]) == ("full", "approved")

    def test_an_edit_sends_an_approved_mapping_back_to_proposed(self, client, officer, created):
        url = f"/api/v1/mappings/{created['id']}"
        client.patch(url, json={"state": "approved"}, headers=officer)

        body = client.patch(url, json={"note": "Reworded."}, headers=officer).get_json()

        assert (body["state"], body["approved_by"]) == ("proposed", None)

    def test_state_needs_the_approve_permission(self, app, client, officer, created, monkeypatch):
        may_edit_only = ROLE_PERMISSIONS["officer"] - {Permission.APPROVE_MAPPINGS}
        monkeypatch.setitem(ROLE_PERMISSIONS, "officer", may_edit_only)
        events = len(audit_actions_in(app))

        response = client.patch(
            f"/api/v1/mappings/{created['id']}",
            json={"strength": 2, "state": "approved"},
            headers=officer,
        )

        assert "approve-mappings" in assert_error(response, 403)["message"]
        assert client.get(f"/api/v1/mappings/{created['id']}", headers=officer).get_json() == (
            created
        )
        assert len(audit_actions_in(app)) == events

    @pytest.mark.parametrize(
        ("changes", "detail"),
        [
            ({"obligation_id": 1}, "obligation_id: cannot change"),
            ({"state": "rejected"}, "state must be one of: proposed, approved"),
            ({"strength": "high"}, 'strength must be an integer, not "high"'),
            ({"coverage": "most"}, "coverage must be one of: full, partial"),
        ],
    )
    def test_invalid_changes_are_422_and_change_nothing(
        self, client, officer, created, changes, detail
    ):
        url = f"/api/v1/mappings/{created['id']}"

        response = client.patch(url, json=changes, headers=officer)

        assert detail in assert_error(response, 422)["details"]
        assert client.get(url, headers=officer).get_json() == created

    def test_malformed_json_is_400(self, client, officer, created):
        response = client.patch(
            f"/api/v1/mappings/{created['id']}",
            data="{strength: 9}",
            content_type="application/json",
            headers=officer,
        )

        assert_error(response, 400)

    def test_an_unknown_mapping_is_404(self, client, officer, ids):
        assert_error(client.patch("/api/v1/mappings/99999", json={}, headers=officer), 404)

    def test_auditors_cannot_patch(self, client, token_for, created):
        auditor = bearer(token_for("auditor"))
        url = f"/api/v1/mappings/{created['id']}"

        assert_error(client.patch(url, json={"strength": 1}, headers=auditor), 403)
        assert client.get(url, headers=auditor).get_json() == created


class TestDelete:
    def test_delete_removes_the_row_and_records_it(self, app, client, officer, ids):
        created = _create(client, officer, _body(ids)).get_json()
        url = f"/api/v1/mappings/{created['id']}"

        response = client.delete(url, headers=officer)

        assert response.status_code == 204
        assert response.get_data() == b""
        assert_error(client.get(url, headers=officer), 404)
        assert_error(client.delete(url, headers=officer), 404)
        with app.app_context():
            assert audit_actions()[-1] == ("mapping.deleted", OFFICER)

    def test_auditors_cannot_delete(self, app, client, token_for, ids):
        before = _mapping_count(app)

        response = client.delete("/api/v1/mappings/1", headers=bearer(token_for("auditor")))

        assert_error(response, 403)
        assert _mapping_count(app) == before


def test_a_manager_reads_only_their_teams_mappings(app, client, token_for, loaded_catalogue):
    manager = bearer(token_for("manager", team="Policy"))
    with app.app_context():
        rows = db.session.execute(select(ControlMapping.id, ControlMapping.control_id)).all()
        by_control = {control: mapping for mapping, control in rows}
        own, other = by_control[control_id("TS-TR-01")], by_control[control_id("TS-NA-01")]

    assert client.get(f"/api/v1/mappings/{own}", headers=manager).status_code == 200
    assert_error(client.get(f"/api/v1/mappings/{other}", headers=manager), 403)


def test_a_detail_quotes_the_offending_value_as_json(client, officer, ids):
    response = client.post("/api/v1/mappings", json=_body(ids, strength=[1]), headers=officer)

    assert json.dumps([1]) in assert_error(response, 422)["details"][0]
