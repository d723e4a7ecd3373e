"""The OpenAPI 3.1 document for /api/v1: every path, parameter, body, response and schema."""

from __future__ import annotations

from typing import Any

from compliance.api.inputs import MAX_PER_PAGE
from compliance.auth.roles import Permission
from compliance.catalogue.models import DUTIES, INSTRUMENT_TYPES, LEVELS, STATUSES
from compliance.config import DefaultConfig
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    MAPPING_STATES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
)

JSON = dict[str, Any]
SERVER_PATH = "/api/v1"
# Schemas are JSON Schema 2020-12 (OpenAPI 3.1): a nullable value lists "null" among its types.
STRING: JSON = {"type": "string"}
INTEGER: JSON = {"type": "integer"}
DATE_OR_NULL: JSON = {"type": ["string", "null"], "format": "date"}
DATETIME: JSON = {"type": "string", "format": "date-time"}
DATETIME_OR_NULL: JSON = {"type": ["string", "null"], "format": "date-time"}
STRINGS: JSON = {"type": "array", "items": STRING}
CONDITIONS: JSON = {
    "type": "object",
    "description": "Applicability conditions in the catalogue's vocabulary (regulations/README).",
}


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _enum(values: tuple[str, ...], description: str = "") -> JSON:
    schema: JSON = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def _object(properties: JSON, description: str = "") -> JSON:
    """A response object: every property is always present (null where empty)."""
    schema: JSON = {"type": "object", "required": list(properties), "properties": properties}
    if description:
        schema["description"] = description
    return schema


def _page(item: str) -> JSON:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "page": {**INTEGER, "minimum": 1},
            "per_page": {**INTEGER, "minimum": 1, "maximum": MAX_PER_PAGE},
            "total": {**INTEGER, "minimum": 0},
            "pages": {**INTEGER, "minimum": 0},
        },
        f"One page of {item} items.",
    )


_REGULATION_SUMMARY: JSON = {
    "slug": {**STRING, "examples": ["eu-dsa"]},
    "title": STRING,
    "short_title": STRING,
    "citation": STRING,
    "jurisdiction": {**STRING, "description": "Jurisdiction code: INT, EU, GB, US-CA, ..."},
    "level": _enum(LEVELS, "The jurisdiction's level."),
    "instrument_type": _enum(INSTRUMENT_TYPES),
    "status": _enum(STATUSES),
    "adopted_on": DATE_OR_NULL,
    "in_force_on": DATE_OR_NULL,
    "applies_from_on": DATE_OR_NULL,
    "topics": {**STRINGS, "description": "Topic slugs."},
    "url": {**STRING, "description": "The official text."},
    "retired_at": {**DATETIME_OR_NULL, "description": "Set when the file left the catalogue."},
}
_OBLIGATION_SUMMARY: JSON = {
    "id": INTEGER,
    "key": {**STRING, "description": "Stable within its instrument, e.g. art-16."},
    "ref": {**STRING, "description": "Pinpoint citation as written, e.g. Art. 16(1)."},
    "title": STRING,
    "summary": STRING,
    "duty": _enum(DUTIES),
    "topics": {**STRINGS, "description": "Topic slugs."},
    "effective_on": {**DATE_OR_NULL, "description": "Only where it differs from the instrument."},
    "applies_when": CONDITIONS,
    "threshold": {**STRING, "description": "The applicability condition in plain words."},
    "source_url": STRING,
    "retired_at": DATETIME_OR_NULL,
    "mapped_controls": {**INTEGER, "minimum": 0, "description": "How many controls serve it."},
}
_CONTROL_SUMMARY: JSON = {
    "id": INTEGER,
    "code": {**STRING, "examples": ["TS-NA-01"]},
    "title": STRING,
    "description": STRING,
    "domain": _enum(CONTROL_DOMAINS),
    "owner_team": STRING,
    "status": _enum(CONTROL_STATUSES),
    "review_interval_days": {**INTEGER, "minimum": 1},
    "last_reviewed_on": DATE_OR_NULL,
    "evidence_links": STRINGS,
    "retired_at": DATETIME_OR_NULL,
}
_MAPPING_FIELDS: JSON = {
    "relationship": _enum(RELATIONSHIPS, "NIST IR 8477 set-theory relationship."),
    "strength": {**INTEGER, "minimum": 1, "maximum": 10},
    "rationale_type": _enum(RATIONALE_TYPES),
    "coverage": _enum(COVERAGES),
    "note": STRING,
}

SCHEMAS: JSON = {
    "Error": _object(
        {
            "error": _object(
                {
                    "status": {**INTEGER, "description": "The HTTP status code."},
                    "message": {**STRING, "description": "What went wrong, fit for a person."},
                    "details": {**STRINGS, "description": "One entry per problem, if several."},
                }
            )
        },
        "Every error has this shape.",
    ),
    "RegulationSummary": _object(_REGULATION_SUMMARY, "An instrument, as listed."),
    "Regulation": _object(
        {
            **_REGULATION_SUMMARY,
            "status_note": STRING,
            "summary": STRING,
            "max_penalty": STRING,
            "aliases": {**STRINGS, "description": "Other names, used to match regulator news."},
            "applies_when": CONDITIONS,
            "regulator": {"anyOf": [_ref("RegulatorRef"), {"type": "null"}]},
            "parent": {
                "type": ["string", "null"],
                "description": "Slug of the instrument this one implements.",
            },
            "implementing": {**STRINGS, "description": "Slugs of instruments implementing it."},
            "updated_at": DATETIME,
            "obligations": {"type": "array", "items": _ref("ObligationSummary")},
        },
        "An instrument with every field and its obligations.",
    ),
    "RegulatorRef": _object({"slug": STRING, "name": STRING, "url": STRING}),
    "RegulationPage": _page("RegulationSummary"),
    "ObligationSummary": _object(_OBLIGATION_SUMMARY, "An obligation within its instrument."),
    "Obligation": _object(
        {
            **_OBLIGATION_SUMMARY,
            "path": {**STRING, "description": "<instrument slug>/<key>, e.g. eu-dsa/art-16."},
            "applies_from": {**DATE_OR_NULL, "description": "Its own date, else the instrument's."},
            "no_control_reason": {**STRING, "description": "Why no control is needed, if so."},
            "regulation": _object({"slug": STRING, "short_title": STRING, "jurisdiction": STRING}),
            "mappings": {
                "type": "array",
                "items": _ref("Mapping"),
                "description": "For a manager, only mappings to their team's controls.",
            },
        },
        "An obligation with the controls mapped to it.",
    ),
    "ObligationRef": _object({"id": INTEGER, "path": STRING, "ref": STRING, "title": STRING}),
    "ControlSummary": _object(_CONTROL_SUMMARY, "An internal control, as listed."),
    "Control": _object(
        {
            **_CONTROL_SUMMARY,
            "mappings": {
                "type": "array",
                "items": _ref("Mapping"),
                "description": "The obligations this control serves.",
            },
        },
        "An internal control with the obligations it serves.",
    ),
    "ControlRef": _object({"id": INTEGER, "code": STRING, "title": STRING}),
    "ControlPage": _page("ControlSummary"),
    "Mapping": _object(
        {
            "id": INTEGER,
            "obligation": _ref("ObligationRef"),
            "control": _ref("ControlRef"),
            **_MAPPING_FIELDS,
            "state": _enum(MAPPING_STATES),
            "created_by": {"type": ["string", "null"], "format": "email"},
            "approved_by": {"type": ["string", "null"], "format": "email"},
            "approved_at": DATETIME_OR_NULL,
            "created_at": DATETIME,
            "updated_at": DATETIME,
        },
        "How a control serves an obligation (NIST IR 8477, OSCAL mapping).",
    ),
    "MappingCreate": {
        "type": "object",
        "description": "Name the control by control_id or by control_code, not both.",
        "properties": {
            "obligation_id": INTEGER,
            "control_id": INTEGER,
            "control_code": STRING,
            **_MAPPING_FIELDS,
        },
        "required": ["obligation_id", "relationship", "strength", "rationale_type", "coverage"],
        "oneOf": [{"required": ["control_id"]}, {"required": ["control_code"]}],
        "additionalProperties": False,
    },
    "MappingPatch": {
        "type": "object",
        "description": (
            "Fields to change. Editing an approved mapping sends it back to proposed; "
            "state needs the approve-mappings permission."
        ),
        "properties": {**_MAPPING_FIELDS, "state": _enum(MAPPING_STATES)},
        "additionalProperties": False,
    },
}


def _error(description: str, headers: JSON | None = None) -> JSON:
    response: JSON = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


RESPONSES: JSON = {
    "BadRequest": _error("Malformed JSON, a body that is not a JSON object, or not JSON at all."),
    "Unauthorized": _error(
        "No bearer token, or one that is unknown, expired or revoked.",
        {
            "WWW-Authenticate": {
                "description": 'RFC 6750 challenge, e.g. Bearer realm="compliance", '
                'error="invalid_token".',
                "schema": STRING,
            }
        },
    ),
    "Forbidden": _error("The token's user lacks the permission (or the team) this needs."),
    "NotFound": _error("No such resource."),
    "Conflict": _error("The change clashes with existing data, e.g. a duplicate mapping."),
    "Invalid": _error("A query argument or body field is invalid; details name each field."),
    "ServerError": _error("An unexpected failure; nothing was changed."),
}

PARAMETERS: JSON = {
    "page": {
        "name": "page",
        "in": "query",
        "description": "Page number, from 1.",
        "schema": {**INTEGER, "minimum": 1, "default": 1},
    },
    "per_page": {
        "name": "per_page",
        "in": "query",
        "description": f"Items per page; values above {MAX_PER_PAGE} are capped.",
        "schema": {**INTEGER, "minimum": 1, "default": DefaultConfig.PAGE_SIZE},
    },
}


def _query(name: str, schema: JSON, description: str) -> JSON:
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _path(name: str, schema: JSON) -> JSON:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _param(name: str) -> JSON:
    return {"$ref": f"#/components/parameters/{name}"}


def _errors(*statuses: int) -> JSON:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        422: "Invalid",
        500: "ServerError",
    }
    chosen = sorted({401, 403, 500, *statuses})
    return {str(status): {"$ref": f"#/components/responses/{names[status]}"} for status in chosen}


def _ok(schema: str, description: str) -> JSON:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _operation(
    operation_id: str,
    summary: str,
    permission: Permission,
    responses: JSON,
    **extra: Any,
) -> JSON:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": f"Needs the `{permission.value}` permission.",
        "x-required-permission": permission.value,
        **extra,
        "responses": responses,
    }


def _body(schema: str) -> JSON:
    return {
        "required": True,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


MAPPING_ID = _path("mapping_id", INTEGER)

PATHS: JSON = {
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/regulations": {
        "get": _operation(
            "listRegulations",
            "List instruments, filtered and paged",
            Permission.READ_CATALOGUE,
            {"200": _ok("RegulationPage", "One page of instruments."), **_errors(422)},
            parameters=[
                _query(
                    "jurisdiction",
                    STRING,
                    "A jurisdiction code; includes the jurisdictions below it (US covers US-CA).",
                ),
                _query("level", _enum(LEVELS), "The jurisdiction's level."),
                _query("topic", STRING, "A topic slug."),
                _query("status", _enum(STATUSES), "The instrument's status."),
                _query("q", STRING, "Words matched in titles and citations."),
                _query("retired", {"type": "boolean", "default": False}, "Include retired ones."),
                _param("page"),
                _param("per_page"),
            ],
        )
    },
    "/regulations/{slug}": {
        "get": _operation(
            "getRegulation",
            "One instrument with its obligations",
            Permission.READ_CATALOGUE,
            {"200": _ok("Regulation", "The instrument."), **_errors(404)},
            parameters=[_path("slug", STRING)],
        )
    },
    "/obligations/{obligation_id}": {
        "get": _operation(
            "getObligation",
            "One obligation with its mappings",
            Permission.READ_CATALOGUE,
            {"200": _ok("Obligation", "The obligation."), **_errors(404)},
            parameters=[_path("obligation_id", INTEGER)],
        )
    },
    "/controls": {
        "get": _operation(
            "listControls",
            "List internal controls (a manager sees only their team's)",
            Permission.READ_TEAM_CONTROLS,
            {"200": _ok("ControlPage", "One page of controls."), **_errors(422)},
            parameters=[
                _query("team", STRING, "Owner team; a manager may only name their own."),
                _query("domain", _enum(CONTROL_DOMAINS), "The control's domain."),
                _query("status", _enum(CONTROL_STATUSES), "The control's status."),
                _query("q", STRING, "Text matched in codes and titles."),
                _param("page"),
                _param("per_page"),
            ],
        )
    },
    "/controls/{control_id}": {
        "get": _operation(
            "getControl",
            "One control with the obligations it serves (403 for another team's, for a manager)",
            Permission.READ_TEAM_CONTROLS,
            {"200": _ok("Control", "The control."), **_errors(404)},
            parameters=[_path("control_id", INTEGER)],
        )
    },
    "/mappings": {
        "post": _operation(
            "createMapping",
            "Map a control to an obligation",
            Permission.EDIT_MAPPINGS,
            {
                "201": {
                    **_ok("Mapping", "The new mapping, in state proposed."),
                    "headers": {
                        "Location": {"description": "The mapping's URL.", "schema": STRING}
                    },
                },
                **_errors(400, 409, 422),
            },
            requestBody=_body("MappingCreate"),
        )
    },
    "/mappings/{mapping_id}": {
        "get": _operation(
            "getMapping",
            "One mapping (403 for another team's control, for a manager)",
            Permission.READ_TEAM_CONTROLS,
            {"200": _ok("Mapping", "The mapping."), **_errors(404)},
            parameters=[MAPPING_ID],
        ),
        "patch": _operation(
            "updateMapping",
            "Change some of a mapping's fields, or approve it",
            Permission.EDIT_MAPPINGS,
            {"200": _ok("Mapping", "The mapping as changed."), **_errors(400, 404, 422)},
            parameters=[MAPPING_ID],
            requestBody=_body("MappingPatch"),
        ),
        "delete": _operation(
            "deleteMapping",
            "Remove a mapping (the audit trail keeps what it was)",
            Permission.EDIT_MAPPINGS,
            {"204": {"description": "Removed."}, **_errors(404)},
            parameters=[MAPPING_ID],
        ),
    },
}


def openapi_document() -> JSON:
    """The whole document, as served at /api/v1/openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "compliance API",
            "version": "1.0.0",
            "summary": "Online-safety laws, their obligations, and the controls meeting them.",
            "description": (
                "Authenticate with an API token (Account > API tokens, or `flask users token`) "
                "sent as `Authorization: Bearer <token>`. Errors always have the Error shape."
            ),
        },
        "servers": [{"url": SERVER_PATH}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token; session cookies are ignored by the API.",
                }
            },
        },
    }
