"""Helpers for the export tests: running an export in memory, ageing the history, OSCAL checks."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
import regex
from jsonschema import Draft7Validator, ValidationError, validators
from sqlalchemy import select, update

from compliance.audit.services import Actor
from compliance.config import REPOSITORY_ROOT
from compliance.exports import services
from compliance.exports.models import (
    ControlMappingVersion,
    ControlVersion,
    ObligationVersion,
    RegulationVersion,
)
from compliance.exports.rows import ExportFilter
from compliance.extensions import db

TESTER = Actor.system("test")
# CI runs from a clean clone with ../shared beside it: the official schemas come from there.
SHARED_OSCAL = REPOSITORY_ROOT.parent / "shared" / "oscal" / "1.2.3"


def export_bytes(fmt: str, *, bom: bool = False, **filters: Any) -> bytes:
    """Run an export through the service into memory (needs an app context)."""
    stream = io.BytesIO()
    services.write_mappings(ExportFilter(**filters), fmt, stream, actor=TESTER, bom=bom)
    return stream.getvalue()


def age_history(days: int) -> None:
    """Move every history snapshot days into the past, as if written then."""
    # Row by row in Python: date arithmetic in SQL differs between SQLite and PostgreSQL.
    for version in (RegulationVersion, ObligationVersion, ControlVersion, ControlMappingVersion):
        for row_id, recorded_at in db.session.execute(select(version.id, version.recorded_at)):
            db.session.execute(
                update(version)
                .where(version.id == row_id)
                .values(recorded_at=recorded_at - timedelta(days=days))
            )
    db.session.commit()


def _regex_pattern(validator, pattern, instance, schema):
    # NIST's token pattern uses \p{L}/\p{N}: Python's re cannot compile it; regex can.
    if isinstance(instance, str) and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft7Validator, {"pattern": _regex_pattern})


def oscal_schema_errors(document: dict[str, Any], schema_file: str) -> list[str]:
    """Validate with the official schema in ../shared, independently of the app's own code."""
    schema = json.loads((SHARED_OSCAL / schema_file).read_text(encoding="utf-8"))
    validator = _Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@pytest.fixture
def in_app(app, loaded_catalogue):
    """An app context over the loaded test catalogue."""
    with app.app_context():
        yield
