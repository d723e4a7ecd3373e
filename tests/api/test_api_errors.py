"""Errors under /api/ are JSON in one shape, werkzeug's own 404/405/500 included."""

from __future__ import annotations

from tests.api.conftest import assert_error, bearer


def test_an_unknown_route_is_a_json_404_even_without_a_token(client, make_user):
    make_user("admin")  # with users, a page would redirect to the login form instead

    response = client.get("/api/v1/no-such-thing")

    assert_error(response, 404)
    assert "Location" not in response.headers


def test_an_unknown_route_is_a_json_404_with_a_token(client, token_for):
    assert_error(client.get("/api/v1/regulations/x/y", headers=bearer(token_for())), 404)


def test_an_unknown_route_is_a_json_404_before_first_run(client):
    # No account exists yet: pages redirect to the set-up form, the API must not.
    assert_error(client.get("/api/v2/regulations"), 404)


def test_a_wrong_method_is_a_json_405_with_allow(client, token_for):
    response = client.put("/api/v1/regulations", headers=bearer(token_for()))

    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}


def test_an_unexpected_failure_is_a_json_500(app, client, token_for):
    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers

    error = assert_error(client.get("/api/v1/explode"), 500)
    assert "boom" not in error["message"]  # internals stay in the log


def test_a_page_404_is_still_html(client, login):
    login("officer")

    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
