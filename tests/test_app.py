"""The application as a whole: configuration, access rules on every route, cookies, first run
and the login page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from compliance import create_app
from compliance.auth import services as auth_services
from compliance.auth.models import User
from compliance.auth.roles import Permission
from compliance.extensions import db
from tests.conftest import PASSWORD, _config, csrf_token

# Reachable without the permission decorator: static files, the pages that log people in
# (and out: any logged-in user may), and the API, whose bearer-token checks test the API.
UNGUARDED = {
    "static",
    "bootstrap.static",
    "auth.login",
    "auth.setup",
    "auth.logout",
    "alerts.unsubscribe",  # a signed single-use token instead of a login
    "alerts.calendar",  # a signed revocable token instead of a login
}


def _is_unguarded(endpoint: str) -> bool:
    return endpoint in UNGUARDED or endpoint.startswith("api.")


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_create_app_refuses_to_start_without_a_secret_key(
    tmp_path: Path, secret: str | None
) -> None:
    overrides: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    if secret is not None:
        overrides["SECRET_KEY"] = secret

    with pytest.raises(RuntimeError, match="No secret key: set COMPLIANCE_SECRET_KEY"):
        create_app(overrides)


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("COMPLIANCE_PAGE_SIZE", "7")

    app = create_app()

    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'env.db'}"
    assert app.config["PAGE_SIZE"] == 7


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@db.internal/c", "postgresql+psycopg://u@db.internal/c"),
        ("postgresql://u@db.internal/c", "postgresql+psycopg://u@db.internal/c"),
        ("postgresql+psycopg://u@db.internal/c", "postgresql+psycopg://u@db.internal/c"),
    ],
)
def test_database_url_forms(given: str, used: str) -> None:
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": given})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == used


def test_default_database_is_in_the_instance_folder() -> None:
    app = create_app({"SECRET_KEY": "x"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{Path(app.instance_path) / 'compliance.db'}"
    )
    assert app.config["SEARCH_INDEX_DIR"] == str(Path(app.instance_path) / "search-index")


# -- every route names its permission -------------------------------------------------------


def test_every_route_requires_a_permission(app: Flask) -> None:
    unguarded = []
    for rule in app.url_map.iter_rules():
        if _is_unguarded(rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "required_permission", None)
        if not isinstance(permission, Permission):
            unguarded.append(f"{rule.rule} ({rule.endpoint})")

    assert unguarded == [], "routes without @require(Permission.X)"


def test_route_check_sees_the_pages(app: Flask) -> None:
    guarded = {r.endpoint for r in app.url_map.iter_rules() if not _is_unguarded(r.endpoint)}

    assert {"dashboard.index", "auth.account", "auth.users"} <= guarded


def test_unguarded_routes_exist(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert UNGUARDED.issubset(endpoints)  # a renamed endpoint must not silently widen the list


# -- cookies --------------------------------------------------------------------------------


def _session_cookie(client: FlaskClient, path: str = "/setup") -> str:
    response = client.get(path)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient) -> None:
    cookie = _session_cookie(client)

    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie
    assert "; Secure" not in cookie  # BASE_URL is http:// in the tests


def test_session_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    settings = _config(f"sqlite:///{tmp_path / 'https.db'}", tmp_path)
    app = create_app({**settings, "BASE_URL": "https://compliance.example.org"})
    with app.app_context():
        db.create_all()

    cookie = _session_cookie(app.test_client())

    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        db.engine.dispose()


def test_explicit_cookie_setting_wins(tmp_path: Path) -> None:
    settings = _config(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)

    app = create_app({**settings, "SESSION_COOKIE_SECURE": True})

    assert app.config["SESSION_COOKIE_SECURE"] is True


# -- first run ------------------------------------------------------------------------------


def _example_url(app: Flask, rule: Rule) -> str:
    values = {
        name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
        for name in rule.arguments
    }
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def test_with_no_users_every_page_leads_to_setup(app: Flask, client: FlaskClient) -> None:
    pages = [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and (not _is_unguarded(rule.endpoint) or rule.endpoint == "auth.login")
    ]
    assert pages

    for rule in pages:
        url = _example_url(app, rule)
        response = client.get(url)
        assert (response.status_code, response.location) == (302, "/setup"), url


def test_setup_creates_the_first_admin_then_closes(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/setup",
        data={
            "name": "Ada",
            "email": "Ada@Example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_token(client, "/setup"),
        },
    )

    assert (response.status_code, response.location) == (302, "/")
    assert client.get("/").status_code == 200  # logged in as the new administrator
    with app.app_context():
        admin = db.session.scalars(db.select(User)).one()
        assert (admin.email, admin.role, admin.name) == ("ada@example.org", "admin", "Ada")
    response = client.get("/setup")
    assert (response.status_code, response.location) == (302, "/login")
    other = app.test_client()
    assert other.get("/setup").location == "/login"
    assert other.get("/").location.startswith("/login")


def test_setup_with_mismatched_passwords_creates_nobody(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/setup",
        data={
            "email": "ada@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD + "!",
            "csrf_token": csrf_token(client, "/setup"),
        },
    )

    assert response.status_code == 200
    assert "Passwords differ." in response.get_data(as_text=True)
    with app.app_context():
        assert not auth_services.has_users()


# -- logging in -----------------------------------------------------------------------------


def _log_in(client: FlaskClient, email: str, password: str, query: str = "") -> Any:
    token = csrf_token(client, "/login")
    return client.post(
        f"/login{query}", data={"email": email, "password": password, "csrf_token": token}
    )


def test_login_and_logout(client: FlaskClient, make_user: Callable[..., User]) -> None:
    user = make_user("auditor")

    response = _log_in(client, user.email, PASSWORD)

    assert (response.status_code, response.location) == (302, "/")
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert response.location == "/login"
    assert client.get("/").location.startswith("/login")


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")

    wrong_password = _log_in(client, user.email, "not the password")
    unknown_user = _log_in(client, "nobody@example.org", PASSWORD)

    assert wrong_password.status_code == unknown_user.status_code == 401
    for response in (wrong_password, unknown_user):
        assert auth_services.LOGIN_FAILED_MESSAGE in response.get_data(as_text=True)


def test_throttled_login_says_so(client: FlaskClient, make_user: Callable[..., User]) -> None:
    user = make_user("officer")
    for _ in range(5):
        _log_in(client, user.email, "guess")

    response = _log_in(client, user.email, PASSWORD)

    assert response.status_code == 401
    assert "Too many failed attempts" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/setup"])
def test_post_without_csrf_token_is_refused(
    client: FlaskClient, make_user: Callable[..., User], path: str
) -> None:
    user = make_user("officer")
    client.get("/login")

    response = client.post(path, data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 400
    assert client.get("/").location.startswith("/login")  # not logged in


def test_post_with_a_forged_csrf_token_is_refused(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("officer")
    client.get("/login")

    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/login",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(
    client: FlaskClient, make_user: Callable[..., User], target: str
) -> None:
    user = make_user("officer")

    response = _log_in(client, user.email, PASSWORD, query=f"?next={target}")

    assert (response.status_code, response.location) == (302, "/")


def test_login_follows_a_local_next(client: FlaskClient, make_user: Callable[..., User]) -> None:
    user = make_user("officer")

    response = _log_in(client, user.email, PASSWORD, query="?next=/account")

    assert response.location == "/account"


def test_pages_need_login_once_users_exist(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("officer")

    response = client.get("/account")

    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_role_without_the_permission_gets_403(
    client: FlaskClient, login: Callable[..., User]
) -> None:
    login("auditor")

    assert client.get("/admin/users").status_code == 403
    assert client.get("/account").status_code == 200
