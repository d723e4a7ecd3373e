"""The applicability pages: profiles, the evaluation, changes, questions, the register; roles."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from compliance.applicability import services
from compliance.applicability.models import ServiceProfile
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.extensions import db
from tests.applicability.conftest import CRISIS
from tests.conftest import csrf_token

pytestmark = pytest.mark.usefixtures("profile_catalogue")

FORM = {
    "name": "Chatter",
    "description": "A social network",
    "kinds": ["social-media"],
    "jurisdictions": ["EU", "GB"],
    "monthly_users": "EU: 1,000\nGB: 500",
    "child_access": "likely",
    "minimum_age": "13",
    "features": ["recommender"],
    "company_size": "large",
}


@pytest.fixture
def profile_id(app, profile_input) -> int:
    with app.app_context():
        return services.create_profile(profile_input(), actor=Actor(None, "seed")).id


def post_form(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def profiles_saved(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(ServiceProfile.id)))


def test_the_navbar_and_the_empty_list(client, login) -> None:
    login("officer")

    html = client.get("/applicability/").get_data(as_text=True)

    assert 'href="/applicability/"' in html
    assert "No service profile yet" in html
    assert "Create the first profile" in html


def test_create_a_profile_through_the_form(app, client, login) -> None:
    login("officer")

    response = post_form(client, "/applicability/profiles/new", FORM)

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Profile Chatter saved" in page
    assert "applies: hosting service (as a social network) offered in the EU" in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "profile.created"))
        assert event.actor_label == "officer@example.org"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"monthly_users": "EU: -3"}, "a count cannot be negative"),
        ({"monthly_users": "EU: 99,000,000,000"}, "more than everyone alive"),
        ({"jurisdictions": ["EU", "ATLANTIS"]}, "unknown code ATLANTIS"),
        ({"minimum_age": "18", "child_access": "known"}, "contradicts itself"),
        ({"kinds": []}, "Choose at least one kind of service."),
        ({"minimum_age": "150"}, "Number must be between 0 and 21"),
    ],
)
def test_bad_form_input_is_named_and_nothing_is_saved(app, client, login, change, message) -> None:
    login("officer")

    response = post_form(client, "/applicability/profiles/new", {**FORM, **change})

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert profiles_saved(app) == 0


def test_a_form_without_its_csrf_token_is_refused(app, client, login) -> None:
    login("officer")

    response = client.post("/applicability/profiles/new", data=FORM)

    assert response.status_code in (400, 422)
    assert profiles_saved(app) == 0


def test_the_evaluation_page_filters_and_counts(client, login, profile_id) -> None:
    login("auditor")
    base = f"/applicability/profiles/{profile_id}"

    page = client.get(base).get_data(as_text=True)
    applies = client.get(f"{base}?outcome=applies").get_data(as_text=True)
    in_gb = client.get(f"{base}?jurisdiction=GB").get_data(as_text=True)

    assert 'data-stat="applies"' in page
    assert "question of legal judgement" in page
    assert 'data-outcome="does-not-apply"' not in applies
    assert 'data-path="test-dsa/art-16"' in applies
    assert 'data-path="test-osa/s-12"' in in_gb
    assert 'data-path="test-dsa/art-16"' not in in_gb
    assert "Edit profile" not in page  # an auditor reads only


def test_an_edit_shows_what_changed(client, login, profile_id) -> None:
    login("officer")
    path = f"/applicability/profiles/{profile_id}/edit"
    assert "EU: 1,000" in client.get(path).get_data(as_text=True)

    response = post_form(client, path, {**FORM, "monthly_users": "EU: 52,000,000\nGB: 500"})

    assert response.status_code == 302
    assert "/changes/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 obligation now applies" in page
    assert "These obligations now apply" in page
    assert "52,000,000 EU users ≥ 45,000,000" in page
    history = client.get(f"/applicability/profiles/{profile_id}").get_data(as_text=True)
    assert "What changed" in history


def test_answering_a_question_on_its_page(app, client, login, profile_id) -> None:
    login("officer")
    path = f"/applicability/profiles/{profile_id}/questions"
    page = client.get(path).get_data(as_text=True)
    assert CRISIS in page
    field = page[page.index('name="answer-') :].split('"')[1]

    response = client.post(path, data={field: "yes", "csrf_token": csrf_token(client, path)})

    assert response.status_code == 302
    with app.app_context():
        assert services.get_profile(profile_id).answers == {CRISIS: True}


def test_readers_cannot_change_profiles(client, login, profile_id) -> None:
    login("manager", team="Policy")
    base = f"/applicability/profiles/{profile_id}"

    assert client.get(base).status_code == 200
    assert client.get("/applicability/").status_code == 200
    for path in ("/applicability/profiles/new", f"{base}/edit", f"{base}/delete"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, f"{base}/questions")
    assert client.post(f"{base}/questions", data={"csrf_token": token}).status_code == 403


def test_delete_asks_first(app, client, login, profile_id) -> None:
    login("admin")
    path = f"/applicability/profiles/{profile_id}/delete"
    assert "Delete Chatter?" in client.get(path).get_data(as_text=True)

    response = client.post(path, data={"csrf_token": csrf_token(client, path)})

    assert response.status_code == 302
    assert profiles_saved(app) == 0


@pytest.mark.parametrize(
    ("fmt", "mimetype"),
    [
        ("csv", "text/csv"),
        ("json", "application/json"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_the_register_downloads(client, login, profile_id, fmt, mimetype) -> None:
    login("manager", team="Policy")

    response = client.get(f"/applicability/profiles/{profile_id}/register.{fmt}")

    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert 'filename="applicability-chatter-' in response.headers["Content-Disposition"]


def test_an_unknown_register_format_is_refused(client, login, profile_id) -> None:
    login("officer")

    response = client.get(f"/applicability/profiles/{profile_id}/register.pdf")

    assert response.status_code == 422
    assert "choose one of: csv, json, xlsx" in response.get_data(as_text=True)


def test_a_missing_profile_is_a_404(client, login) -> None:
    login("officer")

    assert client.get("/applicability/profiles/999").status_code == 404


def test_the_dashboard_limited_to_a_profile(app, client, login, profile_id) -> None:
    login("officer")
    with app.app_context():
        applying = len(services.applicable_obligation_ids(profile_id))

    everything = client.get("/").get_data(as_text=True)
    limited = client.get(f"/?profile={profile_id}").get_data(as_text=True)
    gone = client.get("/?profile=999").get_data(as_text=True)

    assert "What applies to Chatter" in everything
    assert 'id="profile-scope"' not in everything
    assert 'id="profile-scope"' in limited
    assert "obligations that apply to <strong>Chatter</strong>" in limited
    assert f'data-stat="Obligations">{applying}<' in limited
    assert "no longer exists" in gone


def test_the_gap_view_limited_to_a_profile(client, login, profile_id) -> None:
    login("officer")

    everything = client.get("/gaps").get_data(as_text=True)
    limited = client.get(f"/gaps?profile={profile_id}").get_data(as_text=True)

    # test-dsa/art-28 (children, platform) and test-osa s. 12 are unmapped and apply.
    assert "Systemic risk assessment" in everything  # test-vlop/art-34, unmapped
    assert "Systemic risk assessment" not in limited  # 1,000 EU users: it does not apply
    assert "Protection of minors" in limited
    assert 'id="profile-scope"' in limited
