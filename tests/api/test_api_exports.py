"""GET /api/v1/exports/mappings: each format, filters, as-of, manager scoping, the audit record."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.clock import today
from compliance.extensions import db
from tests.api.conftest import assert_error, assert_matches, bearer

URL = "/api/v1/exports/mappings"


@pytest.fixture
def auditor(token_for, loaded_catalogue):
    return token_for("auditor")


def test_the_default_is_json_matching_its_documented_schema(client, auditor):
    response = client.get(URL, headers=bearer(auditor))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.get_data())
    assert_matches("MappingExport", body)
    assert [m["control_code"] for m in body["mappings"]] == ["TS-NA-01", "TS-TR-01"]


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("oscal", "application/zip"),
    ],
)
def test_each_format(client, auditor, app, fmt, media_type):
    response = client.get(f"{URL}?format={fmt}", headers=bearer(auditor))

    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    assert response.headers["Content-Type"] == media_type
    data = response.get_data()
    if fmt == "csv":
        assert next(csv.reader(io.StringIO(data.decode())))[0] == "jurisdiction"
    else:
        assert zipfile.is_zipfile(io.BytesIO(data))
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.mappings"))
        assert event.actor_label == "auditor@example.org"
        assert event.after["file_sha256"] == hashlib.sha256(data).hexdigest()


def test_filters_and_as_of(client, auditor):
    body = json.loads(
        client.get(f"{URL}?owner=Policy&as_of={today()}", headers=bearer(auditor)).get_data()
    )

    assert [m["control_code"] for m in body["mappings"]] == ["TS-TR-01"]
    assert body["as_of"] == today().isoformat()


def test_an_as_of_before_anything_existed_is_a_clear_422(client, auditor):
    long_ago = (today() - timedelta(days=3000)).isoformat()
    error = assert_error(client.get(f"{URL}?as_of={long_ago}", headers=bearer(auditor)), 422)

    assert f"Nothing existed on {long_ago}" in error["message"]


def test_bad_arguments_are_refused(client, auditor):
    assert_error(client.get(f"{URL}?format=pdf", headers=bearer(auditor)), 422)
    assert_error(client.get(f"{URL}?state=maybe", headers=bearer(auditor)), 422)
    assert_error(client.get(f"{URL}?jurisdiction=ZZ", headers=bearer(auditor)), 422)


def test_a_manager_exports_only_their_team(client, token_for, loaded_catalogue):
    token = token_for("manager", team="Policy")
    body = json.loads(client.get(URL, headers=bearer(token)).get_data())

    assert [m["control_code"] for m in body["mappings"]] == ["TS-TR-01"]
    assert_error(client.get(f"{URL}?owner=Legal", headers=bearer(token)), 403)


def test_a_token_is_needed(client, loaded_catalogue):
    assert_error(client.get(URL), 401)
