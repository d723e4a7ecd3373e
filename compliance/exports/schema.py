"""The documented JSON Schema of the JSON export (served at /exports/schema.json, and in the
OpenAPI document as MappingExport)."""

from __future__ import annotations

from typing import Any

from compliance.mapping.models import COVERAGES, MAPPING_STATES, RATIONALE_TYPES, RELATIONSHIPS

JSON = dict[str, Any]

_TEXT: JSON = {"type": "string"}
_DATE_OR_NULL: JSON = {"type": ["string", "null"], "format": "date"}
_HASH: JSON = {"type": "string", "pattern": "^([0-9a-f]{64})?$"}


def _object(properties: JSON, description: str) -> JSON:
    return {
        "type": "object",
        "description": description,
        "required": list(properties),
        "properties": properties,
    }


_CATALOGUE_FIELDS: JSON = {
    "jurisdiction": {**_TEXT, "description": "Jurisdiction code: INT, EU, GB, US-CA, ..."},
    "instrument": {**_TEXT, "description": "The instrument's slug, e.g. eu-dsa."},
    "instrument_title": {**_TEXT, "description": "The instrument's short title."},
    "instrument_citation": _TEXT,
    "instrument_hash": {
        **_HASH,
        "description": "SHA-256 of the instrument's catalogue entry: its version.",
    },
    "obligation_key": {**_TEXT, "description": "Stable within its instrument, e.g. art-16."},
    "obligation_ref": {**_TEXT, "description": "Pinpoint citation as written, e.g. Art. 16(1)."},
    "obligation_title": _TEXT,
    "obligation_summary": {**_TEXT, "description": "In the project's own words."},
}

MAPPING_ROW: JSON = _object(
    {
        **_CATALOGUE_FIELDS,
        "control_code": {**_TEXT, "description": "e.g. TS-NA-01"},
        "control_title": _TEXT,
        "control_description": _TEXT,
        "control_domain": _TEXT,
        "control_owner": {**_TEXT, "description": "The team that owns the control."},
        "control_status": {
            **_TEXT,
            "description": "implemented, partial, planned or not-implemented.",
        },
        "last_reviewed_on": {**_DATE_OR_NULL, "description": "The control's last review."},
        "relationship": {
            "type": "string",
            "enum": list(RELATIONSHIPS),
            "description": "NIST IR 8477 / OSCAL: read as obligation RELATIONSHIP control.",
        },
        "strength": {"type": "integer", "minimum": 1, "maximum": 10},
        "rationale": {"type": "string", "enum": list(RATIONALE_TYPES)},
        "coverage": {"type": "string", "enum": list(COVERAGES)},
        "note": _TEXT,
        "state": {"type": "string", "enum": list(MAPPING_STATES)},
        "approved_by": {"type": ["string", "null"], "description": "The approver's e-mail."},
        "approved_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "One obligation-control pair.",
)

UNMAPPED_ROW: JSON = _object(
    {
        **_CATALOGUE_FIELDS,
        "no_control_reason": {
            **_TEXT,
            "description": "Why the obligation needs no control, where the catalogue says so.",
        },
    },
    "An obligation in scope that no control serves.",
)

_NULLABLE_TEXT: JSON = {"type": ["string", "null"]}

EXPORT_SCHEMA: JSON = _object(
    {
        "format": {"const": "compliance-mapping-export"},
        "schema_version": {"const": "1.0"},
        "generated_at": {"type": "string", "format": "date-time"},
        "generated_by": {**_TEXT, "description": "Who asked for the export."},
        "as_of": {**_DATE_OR_NULL, "description": "null: as things stood when generated."},
        "filters": _object(
            dict.fromkeys(
                ("jurisdiction", "instrument", "topic", "owner", "state"), _NULLABLE_TEXT
            ),
            "The filters applied; null where none.",
        ),
        "mappings": {"type": "array", "items": MAPPING_ROW},
        "unmapped_obligations": {
            "type": "array",
            "items": UNMAPPED_ROW,
            "description": "Owner and state filters do not apply here.",
        },
        "summary": _object(
            {
                "mappings": {"type": "integer", "minimum": 0},
                "unmapped_obligations": {"type": "integer", "minimum": 0},
                "rows_sha256": {
                    **_HASH,
                    "description": (
                        "SHA-256 over the mappings, one line each: the row's JSON with sorted "
                        "keys, no spaces, UTF-8, then a newline. The CSV, XLSX and OSCAL "
                        "exports of the same filters state the same value."
                    ),
                },
            },
            "Counts, and a hash that ties the formats together.",
        ),
    },
    "Control mappings: one row per obligation-control pair.",
)


def standalone_schema(schema_id: str) -> JSON:
    """The schema as a document of its own (JSON Schema 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": "compliance mapping export",
        **EXPORT_SCHEMA,
    }
