"""The exports and import pages: who may use them, the download buttons, the trail export."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.extensions import db
from compliance.mapping.models import Control
from tests.conftest import csrf_token


def _download(client, fmt: str, query: str = "", **form):
    token = csrf_token(client, f"/exports/{query}")
    return client.post(
        f"/exports/mappings{query}", data={"csrf_token": token, "format": fmt, **form}
    )


@pytest.mark.parametrize("role", ["admin", "officer", "auditor"])
def test_readers_see_the_page_with_a_preview_and_buttons(client, login, loaded_catalogue, role):
    login(role)
    html = client.get("/exports/").get_data(as_text=True)

    assert "Export control mappings" in html
    assert "TS-NA-01" in html and "TS-TR-01" in html
    assert "<strong>2</strong> mappings" in html
    for fmt in ("csv", "xlsx", "json", "oscal"):
        assert f'name="format" value="{fmt}"' in html
    assert 'href="/exports/"' in html  # the navbar entry


@pytest.mark.parametrize(
    ("fmt", "media_type", "start"),
    [
        ("csv", "text/csv; charset=utf-8", b"jurisdiction,"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("json", "application/json", b"{"),
        ("oscal", "application/zip", b"PK"),
    ],
)
def test_an_auditor_downloads_each_format(
    client, login, loaded_catalogue, app, fmt, media_type, start
):
    login("auditor")
    response = _download(client, fmt)

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Content-Disposition"].startswith('attachment; filename="mappings-')
    body = response.get_data()
    assert body.startswith(start)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert response.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.mappings"))
        assert event.actor_label == "auditor@example.org"
        assert event.entity_id == hashlib.sha256(body).hexdigest()


def test_filters_and_bom_travel_with_the_download(client, login, loaded_catalogue):
    login("officer")
    response = _download(client, "csv", "?owner=Policy", bom="y")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))

    assert response.get_data().startswith(b"\xef\xbb\xbf")
    assert [row[rows[0].index("control_code")] for row in rows[1:]] == ["TS-TR-01"]


def test_a_download_without_its_token_is_refused(client, login, loaded_catalogue, app):
    login("auditor")
    response = client.post("/exports/mappings", data={"format": "csv"})

    assert response.status_code == 400
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent.id).where(AuditEvent.action.like("export.%")))
            is None
        )


def test_a_manager_exports_only_their_team(client, login, loaded_catalogue):
    login("manager", team="Policy")
    html = client.get("/exports/").get_data(as_text=True)
    assert "TS-TR-01" in html and "TS-NA-01" not in html
    assert "only the controls your team" in html

    document = json.loads(_download(client, "json").get_data())
    assert [m["control_code"] for m in document["mappings"]] == ["TS-TR-01"]
    assert document["filters"]["owner"] == "Policy"
    assert _download(client, "json", "?owner=Trust+%26+Safety+Operations").status_code == 403


def test_a_manager_without_a_team_is_told_what_to_do(client, login, loaded_catalogue):
    login("manager")
    html = client.get("/exports/").get_data(as_text=True)
    assert "Your account has no team yet" in html
    assert _download(client, "csv").status_code == 403


def test_an_as_of_before_anything_existed_is_explained_on_the_page(client, login, loaded_catalogue):
    login("auditor")
    html = client.get("/exports/?as_of=2001-01-01").get_data(as_text=True)
    assert "Nothing existed on 2001-01-01" in html

    response = _download(client, "csv", "?as_of=2001-01-01")
    assert response.status_code == 302
    assert "as_of=2001-01-01" in response.headers["Location"]


def test_bad_filters_are_explained(client, login, loaded_catalogue):
    login("auditor")
    html = client.get("/exports/?state=nope").get_data(as_text=True)
    assert "state must be one of: proposed, approved" in html


def test_the_json_schema_is_published(client, login):
    login("auditor")
    schema = client.get("/exports/schema.json").get_json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "mappings" in schema["properties"]


# -- the audit trail export ------------------------------------------------------------------


def test_the_audit_page_offers_the_export_with_its_filters(client, login, loaded_catalogue):
    login("auditor")
    html = client.get("/audit/?action=mapping.").get_data(as_text=True)
    assert 'action="/exports/audit-trail?action=mapping."' in html

    token = csrf_token(client, "/audit/")
    response = client.post(
        "/exports/audit-trail?action=mapping.", data={"csrf_token": token, "format": "json"}
    )
    document = json.loads(response.get_data())
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    assert {e["action"] for e in document["events"]} == {"mapping.created"}


def test_a_manager_may_not_export_the_trail(client, login, loaded_catalogue):
    login("manager", team="Policy")
    token = csrf_token(client, "/exports/")
    response = client.post("/exports/audit-trail", data={"csrf_token": token, "format": "csv"})
    assert response.status_code == 403


# -- imports ---------------------------------------------------------------------------------


def _import(client, data: bytes, name: str, action: str, **fields):
    token = csrf_token(client, "/exports/import")
    form = {"csrf_token": token, "action": action, "kind": "table", **fields}
    form["file"] = (io.BytesIO(data), name)
    return client.post("/exports/import", data=form, content_type="multipart/form-data")


NEW_CONTROL = (
    b"control_code,control_title,control_domain,control_owner,control_status,instrument,"
    b"obligation_key,relationship,strength,rationale,coverage\r\n"
    b"TS-AA-02,Age checks,age-assurance,Product Safety,planned,test-osa,s-12,"
    b"intersects-with,6,functional,partial\r\n"
)


def test_an_officer_dry_runs_then_imports(client, login, loaded_catalogue, app):
    login("officer")
    html = _import(client, NEW_CONTROL, "new.csv", "dry-run").get_data(as_text=True)
    assert "Dry run: what new.csv would change" in html
    assert "create control" in html and "TS-AA-02" in html
    with app.app_context():
        assert db.session.scalar(select(Control.id).filter_by(code="TS-AA-02")) is None

    response = _import(client, NEW_CONTROL, "new.csv", "apply")
    assert response.status_code == 302
    assert "Imported new.csv" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Control.id).filter_by(code="TS-AA-02")) is not None


def test_a_refused_import_lists_its_problems(client, login, loaded_catalogue):
    login("officer")
    response = _import(client, b"code,title\r\nX,Y\r\n", "bad.csv", "apply")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "missing column(s)" in html


def test_an_oscal_catalog_is_imported_from_the_page(client, login, loaded_catalogue, app):
    from tests.exports.test_imports import CATALOG

    login("admin")
    response = _import(
        client,
        json.dumps(CATALOG).encode(),
        "800-53.json",
        "apply",
        kind="oscal",
        prefix="NIST-",
        domain="governance",
        owner_team="Security",
        status="planned",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Control.status).filter_by(code="NIST-AC-2.1")) == "planned"


@pytest.mark.parametrize(("role", "team"), [("auditor", ""), ("manager", "Policy")])
def test_auditors_and_managers_may_not_import(client, login, loaded_catalogue, role, team):
    login(role, team=team)
    assert client.get("/exports/import").status_code == 403
    html = client.get("/exports/").get_data(as_text=True)
    assert "/exports/import" not in html


def test_importing_needs_both_edit_permissions(client, login, loaded_catalogue, monkeypatch):
    from compliance.auth.roles import ROLE_PERMISSIONS, Permission

    monkeypatch.setitem(
        ROLE_PERMISSIONS, "officer", ROLE_PERMISSIONS["officer"] - {Permission.EDIT_CONTROLS}
    )
    login("officer")
    assert client.get("/exports/import").status_code == 403


def test_an_oscal_download_is_a_zip_of_three_documents(client, login, loaded_catalogue):
    login("auditor")
    archive = zipfile.ZipFile(io.BytesIO(_download(client, "oscal").get_data()))
    assert len(archive.namelist()) == 3
