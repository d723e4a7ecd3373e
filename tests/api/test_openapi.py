"""The OpenAPI 3.1 document: valid, public, and describing exactly the routes that exist."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from compliance.api.openapi import SERVER_PATH

IMPLICIT_METHODS = {"HEAD", "OPTIONS"}  # Flask adds these to every rule
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _document(client):
    response = client.get("/api/v1/openapi.json")  # no token: the document is public
    assert response.status_code == 200
    return response.get_json()


def _openapi_path(rule: str) -> str:
    """Flask's /mappings/<int:mapping_id> as OpenAPI's /mappings/{mapping_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(SERVER_PATH))


def test_the_document_is_valid_openapi_3_1(client):
    document = _document(client)

    assert document["openapi"] == "3.1.0"
    validate(document)  # against the OpenAPI 3.1 schema, $refs resolved


def test_every_route_is_documented_and_nothing_else(app, client):
    documented = {
        (path, method.upper())
        for path, item in _document(client)["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    served = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(SERVER_PATH + "/")
        for method in (rule.methods or set()) - IMPLICIT_METHODS
    }

    assert served, "no API routes found"
    assert served == documented


def test_each_operation_names_the_permission_its_view_requires(app, client):
    document = _document(client)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(SERVER_PATH + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in (rule.methods or set()) - IMPLICIT_METHODS:
            operation = document["paths"][_openapi_path(rule.rule)][method.lower()]
            permission = getattr(view, "required_permission", None)
            if permission is None:
                assert operation["security"] == [], rule.rule
            else:
                assert operation["x-required-permission"] == permission.value, rule.rule
                assert "401" in operation["responses"]
                assert "403" in operation["responses"]


def test_path_parameters_are_declared(client):
    for path, item in _document(client)["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if "name" in p}
            for name in re.findall(r"{([^}]+)}", path):
                assert name in declared, f"{method} {path}: {name}"


def test_bearer_is_the_only_security_scheme(client):
    document = _document(client)

    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token; session cookies are ignored by the API.",
        }
    }
    assert document["security"] == [{"bearerAuth": []}]


def test_the_named_schemas_exist(client):
    schemas = _document(client)["components"]["schemas"]

    for name in ("Regulation", "Obligation", "Control", "Mapping", "Error", "RegulationPage"):
        assert name in schemas
