"""Bearer-token authentication and permissions of the JSON API (compliance.api.auth)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from compliance.audit.services import Actor
from compliance.auth import services as auth_services
from compliance.auth.models import ApiToken
from compliance.auth.roles import Permission
from compliance.clock import utcnow
from compliance.extensions import db
from tests.api.conftest import assert_error, bearer

URL = "/api/v1/regulations"


def test_no_token_is_401_with_a_bare_bearer_challenge(client):
    error = assert_error(client.get(URL), 401)

    challenge = client.get(URL).headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge  # RFC 6750 3.1: no error code without credentials
    assert "Bearer <token>" in error["message"]


def test_another_auth_scheme_counts_as_no_token(client):
    response = client.get(URL, headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_error(response, 401)
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_a_malformed_bearer_header_is_400_invalid_request(client):
    response = client.get(URL, headers={"Authorization": "Bearer "})

    assert_error(response, 400)
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_an_unknown_token_is_401_invalid_token(client, make_user):
    make_user("officer")
    response = client.get(URL, headers=bearer("cmp_not-a-real-token"))

    assert_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_valid_token_is_accepted(client, token_for):
    response = client.get(URL, headers=bearer(token_for("auditor")))

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_a_revoked_token_is_401(app, client, make_user):
    user = make_user("officer")
    with app.app_context():
        issued = auth_services.issue_token(user.email, actor=Actor.system("test"))
        assert client.get(URL, headers=bearer(issued.token)).status_code == 200
        auth_services.revoke_token(issued.record.id, actor=Actor.system("test"))

    response = client.get(URL, headers=bearer(issued.token))

    assert_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_401(app, client, make_user):
    user = make_user("officer")
    with app.app_context():
        issued = auth_services.issue_token(user.email, days=1, actor=Actor.system("test"))
        assert client.get(URL, headers=bearer(issued.token)).status_code == 200
        db.session.execute(
            update(ApiToken)
            .filter_by(id=issued.record.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()

    assert_error(client.get(URL, headers=bearer(issued.token)), 401)


def test_a_deactivated_users_token_is_401(app, client, make_user):
    user = make_user("officer")
    with app.app_context():
        token = auth_services.issue_token(user.email, actor=Actor.system("test")).token
        auth_services.update_user(
            user.id, role="officer", team="", name="", active=False, actor=Actor.system("test")
        )

    assert_error(client.get(URL, headers=bearer(token)), 401)


def test_the_login_cookie_is_ignored(client, login):
    login("admin")
    assert client.get("/").status_code == 200  # the browser session works for pages

    assert_error(client.get(URL), 401)
    # Nor can the cookie write: without a token this is refused before any CSRF question.
    assert_error(client.post("/api/v1/mappings", json={}), 401)


def test_the_api_sets_no_session_cookie(client, token_for):
    response = client.get(URL, headers=bearer(token_for("officer")))

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_every_api_view_declares_its_permission(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert len(rules) > 5
    for rule in rules:
        if rule.endpoint == "api.openapi":
            continue  # public: it documents the interface, it reveals no data
        permission = getattr(app.view_functions[rule.endpoint], "required_permission", None)
        assert isinstance(permission, Permission), rule.endpoint


@pytest.mark.parametrize("role", ["manager", "auditor"])
def test_a_role_without_the_permission_gets_403_json(client, token_for, role):
    response = client.delete("/api/v1/mappings/1", headers=bearer(token_for(role)))

    error = assert_error(response, 403)
    assert role in error["message"]
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
