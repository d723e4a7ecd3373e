"""Fixtures for the JSON API: bearer tokens per role, and checking bodies against the document."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from compliance.api.openapi import openapi_document
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor
from compliance.auth import services as auth_services
from compliance.catalogue.models import Obligation, Regulation
from compliance.extensions import db
from compliance.mapping.models import Control

DOCUMENT_URI = "urn:compliance:openapi"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_for(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    """token_for("auditor", team=...) makes a user of that role and returns a fresh API token."""

    def issue(role: str = "officer", team: str = "", email: str | None = None) -> str:
        user = make_user(role, email=email, team=team)
        with app.app_context():
            return auth_services.issue_token(user.email, actor=Actor.system("test")).token

    return issue


def _closed(schema: Any) -> Any:
    """The schema with additionalProperties: false on every object that lists its properties.

    The document leaves objects open, as clients expect; tests close them so a field the
    server sends but the document omits fails the test.
    """
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(value) for value in schema]
    return schema


def assert_matches(schema_name: str, body: Any) -> None:
    """Fail unless body is exactly what components/schemas/<schema_name> describes."""
    document = _closed(copy.deepcopy(openapi_document()))
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The response is a JSON error of that status in the documented shape; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert_matches("Error", body)
    assert body["error"]["status"] == status
    return dict(body["error"])


def obligation_id(path: str) -> int:
    slug, key = path.split("/")
    query = (
        select(Obligation.id)
        .join(Obligation.regulation)
        .where(Regulation.slug == slug, Obligation.key == key)
    )
    found = db.session.scalar(query)
    assert found is not None
    return found


def control_id(code: str) -> int:
    found = db.session.scalar(select(Control.id).filter_by(code=code))
    assert found is not None
    return found


def audit_actions() -> list[tuple[str, str]]:
    """(action, actor label) of every mapping event, oldest first."""
    query = select(AuditEvent).where(AuditEvent.entity_type == "mapping").order_by(AuditEvent.id)
    return [(event.action, event.actor_label) for event in db.session.scalars(query)]
