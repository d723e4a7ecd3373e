"""/api/v1/profiles: create, read, change and delete service profiles; their applicability."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from compliance.applicability.models import ServiceProfile
from compliance.audit.models import AuditEvent
from compliance.extensions import db
from tests.api.conftest import assert_error, assert_matches, bearer
from tests.applicability.conftest import CRISIS, profile_catalogue  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("profile_catalogue")

BODY = {
    "name": "Chatter",
    "kinds": ["social-media"],
    "jurisdictions": ["EU", "GB"],
    "monthly_users": {"EU": 1000},
    "child_access": "likely",
    "minimum_age": 13,
    "features": ["recommender"],
    "company_size": "large",
}


@pytest.fixture
def officer(token_for) -> dict[str, str]:
    return bearer(token_for("officer"))


def create(client, headers, body=None):
    return client.post("/api/v1/profiles", json=body or BODY, headers=headers)


def profile_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(ServiceProfile.id)))


def test_create_read_and_list(client, officer) -> None:
    created = create(client, officer)

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert_matches("Profile", body)
    assert created.headers["Location"].endswith(f"/api/v1/profiles/{body['id']}")
    one = client.get(f"/api/v1/profiles/{body['id']}", headers=officer)
    assert_matches("Profile", one.get_json())
    listed = client.get("/api/v1/profiles", headers=officer).get_json()
    assert_matches("ProfilePage", listed)
    assert [p["name"] for p in listed["items"]] == ["Chatter"]


def test_applicability_with_filters(client, officer) -> None:
    profile_id = create(client, officer).get_json()["id"]

    everything = client.get(f"/api/v1/profiles/{profile_id}/applicability", headers=officer)
    judgement = client.get(
        f"/api/v1/profiles/{profile_id}/applicability?outcome=needs-judgement", headers=officer
    )

    assert everything.status_code == 200
    assert_matches("Applicability", everything.get_json())
    assert everything.get_json()["counts"]["total"] == 8
    items = judgement.get_json()["items"]
    assert [(i["obligation"], i["open_questions"]) for i in items] == [
        ("test-vlop/art-36", [CRISIS])
    ]
    bad = client.get(f"/api/v1/profiles/{profile_id}/applicability?outcome=maybe", headers=officer)
    assert "outcome must be one of" in assert_error(bad, 422)["message"]


def test_patch_returns_what_changed(app, client, officer) -> None:
    profile_id = create(client, officer).get_json()["id"]

    response = client.patch(
        f"/api/v1/profiles/{profile_id}",
        json={"monthly_users": {"EU": 52_000_000}, "answers": {CRISIS: True}},
        headers=officer,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert_matches("ProfileUpdate", body)
    assert body["changes"]["summary"] == ["2 obligations now apply"]
    assert {i["obligation"] for i in body["changes"]["items"]} == {
        "test-vlop/art-34",
        "test-vlop/art-36",
    }
    assert body["profile"]["company_size"] == "large"  # untouched fields stay
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_type == "service_profile")
        ).all()
    assert actions == ["profile.created", "profile.updated"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**BODY, "monthly_users": {"EU": -1}}, "a count must be from 0 to"),
        ({**BODY, "monthly_users": {"EU": 10**13}}, "more than everyone alive"),
        ({**BODY, "jurisdictions": ["EU", "MORDOR"]}, "unknown code MORDOR"),
        ({**BODY, "minimum_age": 18, "child_access": "directed"}, "contradicts itself"),
        ({**BODY, "minimum_age": True}, "minimum_age must be a whole number or null"),
        ({**BODY, "colour": "blue"}, "colour: unknown field"),
        ({"name": "No kinds"}, "kinds is required"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_saved(app, client, officer, body, detail) -> None:
    response = create(client, officer, body)

    error = assert_error(response, 422)
    assert any(detail in line for line in error["details"]), error
    assert profile_count(app) == 0


def test_a_duplicate_name_conflicts(client, officer) -> None:
    create(client, officer)

    assert_error(create(client, officer, {**BODY, "name": "chatter"}), 409)


def test_readers_read_and_cannot_write(client, officer, token_for) -> None:
    profile_id = create(client, officer).get_json()["id"]
    for role, team in (("manager", "Policy"), ("auditor", "")):
        headers = bearer(token_for(role, team=team, email=f"{role}@example.org"))
        assert client.get(f"/api/v1/profiles/{profile_id}", headers=headers).status_code == 200
        assert_error(create(client, headers, {**BODY, "name": role}), 403)
        patch = client.patch(f"/api/v1/profiles/{profile_id}", json={}, headers=headers)
        assert_error(patch, 403)
        assert_error(client.delete(f"/api/v1/profiles/{profile_id}", headers=headers), 403)


def test_delete_then_not_found(client, officer) -> None:
    profile_id = create(client, officer).get_json()["id"]

    assert client.delete(f"/api/v1/profiles/{profile_id}", headers=officer).status_code == 204
    assert_error(client.get(f"/api/v1/profiles/{profile_id}", headers=officer), 404)
    assert_error(client.get(f"/api/v1/profiles/{profile_id}/applicability", headers=officer), 404)
