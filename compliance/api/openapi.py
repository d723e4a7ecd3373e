"""The OpenAPI 3.1 document for /api/v1: every path, parameter, body, response and schema."""

from __future__ import annotations

from typing import Any

from compliance.api.inputs import MAX_PER_PAGE
from compliance.applicability.inputs import MAX_USERS
from compliance.applicability.models import MAX_MINIMUM_AGE
from compliance.applicability.rules import OUTCOMES
from compliance.applicability.vocabulary import CHILD_ACCESS
from compliance.auth.roles import Permission
from compliance.catalogue.models import DUTIES, INSTRUMENT_TYPES, LEVELS, STATUSES
from compliance.catalogue.schema import COMPANY_SIZES, FEATURES, SERVICE_KINDS
from compliance.config import DefaultConfig
from compliance.exports.schema import EXPORT_SCHEMA
from compliance.exports.tabular import MEDIA_TYPE as XLSX_MEDIA_TYPE
from compliance.feeds.models import ORIGINS as FEED_ORIGINS
from compliance.feeds.models import POLL_STATUSES as FEED_POLL_STATUSES
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    MAPPING_STATES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
)
from compliance.reviews.models import EVENT_KINDS as REVIEW_EVENT_KINDS
from compliance.reviews.models import STATES as REVIEW_STATES

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

_PROFILE_FIELDS: JSON = {
    "name": {**STRING, "maxLength": 120, "examples": ["Main app"]},
    "description": STRING,
    "kinds": {
        "type": "array",
        "items": _enum(SERVICE_KINDS),
        "description": "Kinds of service; implied ones are added (a marketplace is a platform).",
    },
    "jurisdictions": {
        "type": "array",
        "items": STRING,
        "description": "Codes where it is offered: EU, GB, US, US-TX, ... (the catalogue's).",
    },
    "monthly_users": {
        "type": "object",
        "additionalProperties": {**INTEGER, "minimum": 0, "maximum": MAX_USERS},
        "description": "Average monthly active users per jurisdiction code.",
    },
    "child_access": _enum(
        CHILD_ACCESS,
        "Children are unlikely or likely to use it, it has known child users, or it is aimed "
        "at children; each level includes the ones before it.",
    ),
    "minimum_age": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": MAX_MINIMUM_AGE,
        "description": "18 or more contradicts child_access known or directed.",
    },
    "features": {"type": "array", "items": _enum(FEATURES)},
    "company_size": {"anyOf": [_enum(COMPANY_SIZES), {"type": "null"}]},
}
_COUNTS: JSON = {
    "applies": {**INTEGER, "minimum": 0},
    "needs_judgement": {**INTEGER, "minimum": 0},
    "does_not_apply": {**INTEGER, "minimum": 0},
    "total": {**INTEGER, "minimum": 0},
}
_VERDICT: JSON = {
    "obligation_id": INTEGER,
    "obligation": {**STRING, "description": "<instrument slug>/<key>, e.g. eu-dsa/art-34."},
    "ref": STRING,
    "title": STRING,
    "instrument": STRING,
    "jurisdiction": STRING,
    "outcome": _enum(OUTCOMES),
    "explanation": {
        **STRING,
        "examples": [
            "applies: online platform offered in the EU with 52,000,000 EU users ≥ 45,000,000 "
            "(DSA Art. 34)"
        ],
    },
    "reasons": {**STRINGS, "description": "The facts that decide the outcome."},
    "open_questions": {**STRINGS, "description": "Judgement questions still to answer."},
    "applies_from": DATE_OR_NULL,
    "starts_on": {**DATE_OR_NULL, "description": "Set when it applies from a future date."},
}
SCHEMAS.update(
    {
        "Profile": _object(
            {
                "id": INTEGER,
                **_PROFILE_FIELDS,
                "answers": {
                    "type": "object",
                    "additionalProperties": {"type": "boolean"},
                    "description": "Answers to judgement questions, keyed by the question.",
                },
                "created_at": DATETIME,
                "updated_at": DATETIME,
            },
            "A service profile: the facts the laws' applicability turns on.",
        ),
        "ProfilePage": _page("Profile"),
        "ProfileCreate": {
            "type": "object",
            "properties": {
                **_PROFILE_FIELDS,
                "answers": {
                    "type": "object",
                    "additionalProperties": {"type": ["boolean", "null"]},
                },
            },
            "required": ["name", "kinds", "jurisdictions", "child_access"],
            "additionalProperties": False,
        },
        "ProfilePatch": {
            "type": "object",
            "description": "Facts to replace; answers merge (null clears one).",
            "properties": {
                **_PROFILE_FIELDS,
                "answers": {
                    "type": "object",
                    "additionalProperties": {"type": ["boolean", "null"]},
                },
            },
            "additionalProperties": False,
        },
        "Counts": _object(_COUNTS, "How many obligations have each outcome."),
        "Verdict": _object(_VERDICT, "One obligation's outcome for the profile, and why."),
        "CountGroup": _object({"key": STRING, "label": STRING, "counts": _ref("Counts")}),
        "Applicability": _object(
            {
                "profile": _object({"id": INTEGER, "name": STRING}),
                "counts": _ref("Counts"),
                "by_jurisdiction": {"type": "array", "items": _ref("CountGroup")},
                "by_instrument": {"type": "array", "items": _ref("CountGroup")},
                "items": {"type": "array", "items": _ref("Verdict")},
            },
            "Every live obligation read against the profile (filtered items, full counts).",
        ),
        "ProfileUpdate": _object(
            {
                "profile": _ref("Profile"),
                "changes": _object(
                    {
                        "summary": {
                            **STRINGS,
                            "examples": [["12 obligations now apply"]],
                        },
                        "items": {
                            "type": "array",
                            "items": {
                                **_object({**_VERDICT, "before": _enum(OUTCOMES)}),
                            },
                        },
                    },
                    "The obligations whose outcome the edit changed.",
                ),
            },
            "The profile as changed, and what changed in its evaluation.",
        ),
    }
)


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

PROFILE_ID = _path("profile_id", INTEGER)
PATHS.update(
    {
        "/profiles": {
            "get": _operation(
                "listProfiles",
                "List service profiles",
                Permission.READ_CATALOGUE,
                {"200": _ok("ProfilePage", "One page of profiles."), **_errors(422)},
                parameters=[_param("page"), _param("per_page")],
            ),
            "post": _operation(
                "createProfile",
                "Describe a service; every fact is checked and nothing is saved on error",
                Permission.EDIT_PROFILES,
                {
                    "201": {
                        **_ok("Profile", "The new profile."),
                        "headers": {
                            "Location": {"description": "The profile's URL.", "schema": STRING}
                        },
                    },
                    **_errors(400, 409, 422),
                },
                requestBody=_body("ProfileCreate"),
            ),
        },
        "/profiles/{profile_id}": {
            "get": _operation(
                "getProfile",
                "One service profile",
                Permission.READ_CATALOGUE,
                {"200": _ok("Profile", "The profile."), **_errors(404)},
                parameters=[PROFILE_ID],
            ),
            "patch": _operation(
                "updateProfile",
                "Change some facts; the response says which obligations changed outcome",
                Permission.EDIT_PROFILES,
                {
                    "200": _ok("ProfileUpdate", "The profile and what changed."),
                    **_errors(400, 404, 409, 422),
                },
                parameters=[PROFILE_ID],
                requestBody=_body("ProfilePatch"),
            ),
            "delete": _operation(
                "deleteProfile",
                "Remove a profile (the audit trail keeps what it stated)",
                Permission.EDIT_PROFILES,
                {"204": {"description": "Removed."}, **_errors(404)},
                parameters=[PROFILE_ID],
            ),
        },
        "/profiles/{profile_id}/applicability": {
            "get": _operation(
                "getProfileApplicability",
                "What applies to the profile, what does not and what needs judgement, and why",
                Permission.READ_CATALOGUE,
                {"200": _ok("Applicability", "The evaluation."), **_errors(404, 422)},
                parameters=[
                    PROFILE_ID,
                    _query("outcome", _enum(OUTCOMES), "Only items with this outcome."),
                    _query("jurisdiction", STRING, "Only instruments of this jurisdiction code."),
                    _query("instrument", STRING, "Only this instrument (its slug)."),
                ],
            )
        },
    }
)


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


# -- search (compliance/search) ----------------------------------------------------------------

_SEARCH_KINDS = ("regulation", "obligation", "control", "feed-entry", "review")
_FACET_VALUE: JSON = _object(
    {
        "value": {**STRING, "description": "The value to pass back as a filter."},
        "label": STRING,
        "count": {**INTEGER, "minimum": 0, "description": "Hits with this value."},
        "selected": {"type": "boolean", "description": "Whether the request filters on it."},
    }
)
SCHEMAS.update(
    {
        "SearchHit": _object(
            {
                "id": {**STRING, "examples": ["obligation:42"]},
                "kind": _enum(_SEARCH_KINDS),
                "title": STRING,
                "ref": {**STRING, "description": "Pinpoint citation, citation or control code."},
                "context": {
                    **STRING,
                    "description": "Instrument, jurisdiction, owner team or feed.",
                },
                "score": {"type": "number", "description": "Relevance; higher ranks first."},
                "url": {
                    **STRING,
                    "description": "The API resource of the hit (a feed entry, which has none: "
                    "its web page).",
                },
                "jurisdiction": {"type": ["string", "null"]},
                "status": {"type": ["string", "null"]},
                "topics": STRINGS,
                "highlights": _object(
                    {
                        "title": {**STRING, "description": "HTML: escaped, matches in <mark>."},
                        "summary": {**STRING, "description": "HTML snippet, matches in <mark>."},
                    }
                ),
                "applicability": {
                    "enum": ["applies", "needs-judgement", None],
                    "description": "With ?profile=: whether the obligation applies to the "
                    "profile or needs judgement; null otherwise.",
                },
            },
            "One search result.",
        ),
        "SearchResults": _object(
            {
                "query": STRING,
                "searched": {**STRING, "description": "The query run, after any correction."},
                "items": {"type": "array", "items": _ref("SearchHit")},
                "page": {**INTEGER, "minimum": 1},
                "per_page": {**INTEGER, "minimum": 1, "maximum": MAX_PER_PAGE},
                "total": {**INTEGER, "minimum": 0},
                "pages": {**INTEGER, "minimum": 0},
                "facets": _object(
                    {
                        name: {"type": "array", "items": _FACET_VALUE}
                        for name in ("kind", "jurisdiction", "level", "topic", "status", "type")
                    },
                    "Counts per value, each as if its own filter were not set.",
                ),
                "notices": {**STRINGS, "description": "What was done with odd input."},
                "suggestion": {"type": ["string", "null"], "description": "Did you mean."},
                "corrected_from": {
                    "type": ["string", "null"],
                    "description": "Set when nothing matched and the suggestion was run instead.",
                },
                "profile": {
                    "oneOf": [
                        _object({"id": {**INTEGER, "minimum": 1}, "name": STRING}),
                        {"type": "null"},
                    ],
                    "description": "The service profile obligations were limited to, if any.",
                },
            },
            "One page of search results with facet counts.",
        ),
    }
)
RESPONSES["Unavailable"] = _error("The search index is being repaired; try again shortly.")
PATHS.update(
    {
        "/search": {
            "get": _operation(
                "search",
                "Search instruments, obligations, controls, feed entries and change reviews (a "
                "manager finds only their team's controls; reviews need read-reviews, feed "
                "entries read-feeds)",
                Permission.READ_CATALOGUE,
                {
                    "200": _ok("SearchResults", "Hits, highlights and facet counts."),
                    **_errors(404, 422),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
                parameters=[
                    _query(
                        "q",
                        STRING,
                        'Words, "phrases", word*, word~, OR, -word, field:value, or a '
                        "citation such as Art. 16(1) DSA; empty lists everything.",
                    ),
                    _query("jurisdiction", STRING, "Jurisdiction code; includes those below."),
                    _query("level", _enum(LEVELS), "The jurisdiction's level."),
                    _query("topic", STRING, "A topic slug (a control's domain for controls)."),
                    _query(
                        "status",
                        _enum(STATUSES + CONTROL_STATUSES + REVIEW_STATES),
                        "Instrument or control status, or a review's state.",
                    ),
                    _query("type", _enum(INSTRUMENT_TYPES), "Instrument type."),
                    _query("kind", _enum(_SEARCH_KINDS), "Kind of document."),
                    _query("retired", {"type": "boolean", "default": False}, "Include retired."),
                    _query(
                        "profile",
                        {**INTEGER, "minimum": 1},
                        "A service profile's id: obligations are limited to those that apply to "
                        "it or need judgement (each marked in applicability); other kinds are "
                        "not limited. An unknown profile is a 404.",
                    ),
                    _param("page"),
                    _param("per_page"),
                ],
            )
        }
    }
)

# -- exports (compliance.exports) ------------------------------------------------------------

SCHEMAS["MappingExport"] = EXPORT_SCHEMA
_FILE: JSON = {"type": "string", "contentEncoding": "binary"}
PATHS["/exports/mappings"] = {
    "get": _operation(
        "exportMappings",
        "Export the control mappings as CSV, XLSX, JSON or OSCAL (a manager: their team's)",
        Permission.READ_TEAM_CONTROLS,
        {
            "200": {
                "description": (
                    "The export as an attachment. Every export is recorded in the audit trail "
                    "with the file's SHA-256, which Repr-Digest also carries."
                ),
                "headers": {
                    "Content-Disposition": {
                        "description": 'attachment; filename="mappings-<date>.<ext>"',
                        "schema": STRING,
                    },
                    "Repr-Digest": {
                        "description": "RFC 9530: sha-256=:<base64 of the file's SHA-256>:",
                        "schema": STRING,
                    },
                },
                "content": {
                    "text/csv": {"schema": {**_FILE, "description": "RFC 4180, UTF-8."}},
                    XLSX_MEDIA_TYPE: {
                        "schema": {
                            **_FILE,
                            "description": "Sheets: Metadata, Mappings, Unmapped obligations.",
                        }
                    },
                    "application/json": {"schema": _ref("MappingExport")},
                    "application/zip": {
                        "schema": {
                            **_FILE,
                            "description": (
                                "format=oscal: three OSCAL 1.2.3 documents (law obligations "
                                "catalog, internal controls catalog, mapping-collection)."
                            ),
                        }
                    },
                },
            },
            **_errors(422),
        },
        parameters=[
            _query(
                "format",
                {"type": "string", "enum": ["csv", "xlsx", "json", "oscal"], "default": "json"},
                "The file format.",
            ),
            _query(
                "jurisdiction",
                STRING,
                "A jurisdiction code; includes the jurisdictions below it.",
            ),
            _query("instrument", STRING, "An instrument's slug, e.g. eu-dsa."),
            _query("topic", STRING, "A topic slug, matched against obligations' topics."),
            _query("owner", STRING, "A control owner team; a manager may only name their own."),
            _query("state", _enum(MAPPING_STATES), "The mapping's state."),
            _query(
                "as_of",
                {"type": "string", "format": "date"},
                "The mappings and catalogue as they stood at the end of that day (UTC); a date "
                "before the history begins is refused (422).",
            ),
            _query("bom", {"type": "boolean", "default": False}, "CSV: start with a UTF-8 BOM."),
        ],
    )
}

# -- feeds and change reviews (compliance.feeds, compliance.reviews) ---------------------------

_NULLABLE_STRING: JSON = {"type": ["string", "null"]}
_REVIEW_SUMMARY: JSON = {
    "id": INTEGER,
    "state": _enum(REVIEW_STATES),
    "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "Best match's score."},
    "assignee": {"type": ["string", "null"], "format": "email"},
    "due_on": DATE_OR_NULL,
    "decision_note": STRING,
    "promoted": {"type": "boolean", "description": "Opened by a person, below the threshold."},
    "opened_at": DATETIME,
    "updated_at": DATETIME,
    "closed_at": DATETIME_OR_NULL,
    "entry": _ref("FeedEntryRef"),
    "regulations": {**STRINGS, "description": "Slugs of the matched instruments, best first."},
    "next_states": {"type": "array", "items": _enum(REVIEW_STATES)},
}
_ENTRY_REF: JSON = {
    "id": INTEGER,
    "title": STRING,
    "link": {**_NULLABLE_STRING, "description": "The regulator's page (http or https only)."},
    "source": _object({"id": INTEGER, "name": STRING}),
    "published_at": {**DATETIME_OR_NULL, "description": "UTC; null when absent or absurd."},
    "first_seen_at": DATETIME,
    "revision": {**INTEGER, "minimum": 1, "description": "How many versions were seen."},
}
SCHEMAS.update(
    {
        "FeedEntryRef": _object(_ENTRY_REF, "A feed entry, in brief."),
        "ReviewSummary": _object(_REVIEW_SUMMARY, "A change review, as listed."),
        "ReviewPage": _page("ReviewSummary"),
        "Review": _object(
            {
                **_REVIEW_SUMMARY,
                "entry": _object(
                    {
                        **_ENTRY_REF,
                        "summary_html": {**STRING, "description": "Sanitised HTML (nh3)."},
                        "summary_text": STRING,
                        "revised_since_opened": {"type": "boolean"},
                    }
                ),
                "matches": {
                    "type": "array",
                    "items": _object(
                        {
                            "regulation": STRING,
                            "short_title": STRING,
                            "score": {"type": "number", "minimum": 0, "maximum": 1},
                            "reasons": {
                                **STRINGS,
                                "examples": [
                                    ["mentions 'Online Safety Act 2023'", "cites Art. 28 DSA"]
                                ],
                            },
                            "cited_obligations": {
                                "type": "array",
                                "items": INTEGER,
                                "description": "Ids of the obligations at the provisions cited.",
                            },
                        }
                    ),
                },
                "impact": {
                    "type": "array",
                    "description": "Per instrument: obligations, their controls and owner teams.",
                    "items": _object(
                        {
                            "regulation": STRING,
                            "teams": STRINGS,
                            "obligations": {
                                "type": "array",
                                "items": _object(
                                    {
                                        "id": INTEGER,
                                        "ref": STRING,
                                        "title": STRING,
                                        "cited": {"type": "boolean"},
                                        "controls": {
                                            "type": "array",
                                            "items": _object(
                                                {
                                                    "code": STRING,
                                                    "owner_team": STRING,
                                                    "status": _enum(CONTROL_STATUSES),
                                                }
                                            ),
                                        },
                                    }
                                ),
                            },
                        }
                    ),
                },
                "events": {
                    "type": "array",
                    "description": "The review's history, oldest first.",
                    "items": _object(
                        {
                            "at": DATETIME,
                            "actor": STRING,
                            "kind": _enum(REVIEW_EVENT_KINDS),
                            "from_state": _NULLABLE_STRING,
                            "to_state": _NULLABLE_STRING,
                            "note": STRING,
                        }
                    ),
                },
            },
            "A change review with its entry, matches, impact and history.",
        ),
        "ReviewPatch": {
            "type": "object",
            "description": (
                "Changes, applied together or not at all. Moving to action-required or "
                "no-action needs a decision note (given now or already recorded)."
            ),
            "properties": {
                "state": _enum(REVIEW_STATES),
                "assignee": {
                    "type": ["string", "null"],
                    "description": "E-mail of an officer or admin; null unassigns.",
                },
                "due_on": {"type": ["string", "null"], "format": "date"},
                "decision_note": STRING,
                "note": {**STRING, "description": "Added to the history."},
            },
            "minProperties": 1,
            "additionalProperties": False,
        },
        "FeedSource": _object(
            {
                "id": INTEGER,
                "name": STRING,
                "url": {**STRING, "description": "Fetched; follows permanent redirects."},
                "origin": _enum(FEED_ORIGINS),
                "catalogue_url": {
                    **_NULLABLE_STRING,
                    "description": "Its key in regulations/feeds.",
                },
                "regulator": _NULLABLE_STRING,
                "jurisdiction": _NULLABLE_STRING,
                "confirmed": {"type": "boolean"},
                "enabled": {"type": "boolean"},
                "disabled_reason": STRING,
                "interval_minutes": {**INTEGER, "minimum": 1},
                "last_status": _enum(FEED_POLL_STATUSES),
                "last_http_status": {"type": ["integer", "null"]},
                "last_error": {**STRING, "description": "Why the last poll failed or was refused."},
                "consecutive_failures": {**INTEGER, "minimum": 0},
                "failing_since": DATETIME_OR_NULL,
                "flagged_at": {**DATETIME_OR_NULL, "description": "Set after days of failures."},
                "last_polled_at": DATETIME_OR_NULL,
                "last_success_at": DATETIME_OR_NULL,
                "next_poll_at": DATETIME_OR_NULL,
                "retired_at": DATETIME_OR_NULL,
            },
            "A polled feed with its status.",
        ),
        "FeedSourcePage": _page("FeedSource"),
        "FeedSourceCreate": {
            "type": "object",
            "properties": {
                "url": {**STRING, "description": "http(s); private addresses are refused."},
                "name": STRING,
                "interval_minutes": {**INTEGER, "minimum": 1},
                "enabled": {"type": "boolean", "default": True},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
        "FeedSourcePatch": {
            "type": "object",
            "properties": {
                "name": STRING,
                "interval_minutes": {**INTEGER, "minimum": 1},
                "enabled": {"type": "boolean"},
            },
            "minProperties": 1,
            "additionalProperties": False,
        },
    }
)
REVIEW_ID = _path("review_id", INTEGER)
SOURCE_ID = _path("source_id", INTEGER)
PATHS.update(
    {
        "/reviews": {
            "get": _operation(
                "listReviews",
                "The change-review queue, filtered and paged",
                Permission.READ_REVIEWS,
                {"200": _ok("ReviewPage", "One page of reviews, newest first."), **_errors(422)},
                parameters=[
                    _query(
                        "state",
                        {
                            "type": "string",
                            "enum": ["open", "all", *REVIEW_STATES],
                            "default": "open",
                        },
                        "open: new, triaged, assessing and action-required.",
                    ),
                    _query("assignee", STRING, "me, none, or an e-mail."),
                    _query("regulation", STRING, "An instrument's slug."),
                    _query("overdue", {"type": "boolean", "default": False}, "Open and past due."),
                    _param("page"),
                    _param("per_page"),
                ],
            )
        },
        "/reviews/{review_id}": {
            "get": _operation(
                "getReview",
                "One review with its entry, matches and reasons, impact and history",
                Permission.READ_REVIEWS,
                {"200": _ok("Review", "The review."), **_errors(404)},
                parameters=[REVIEW_ID],
            ),
            "patch": _operation(
                "updateReview",
                "Move a review along its workflow, assign it, date it, decide or annotate it",
                Permission.TRIAGE_REVIEWS,
                {"200": _ok("Review", "The review as changed."), **_errors(400, 404, 422)},
                parameters=[REVIEW_ID],
                requestBody=_body("ReviewPatch"),
            ),
        },
        "/feeds": {
            "get": _operation(
                "listFeedSources",
                "Feed sources with their status, errors, backoff and flags",
                Permission.READ_FEEDS,
                {"200": _ok("FeedSourcePage", "One page of sources."), **_errors(422)},
                parameters=[_param("page"), _param("per_page")],
            ),
            "post": _operation(
                "addFeedSource",
                "Add a feed source by URL (polled at once if enabled)",
                Permission.ADMIN_FEEDS,
                {
                    "201": {
                        **_ok("FeedSource", "The new source."),
                        "headers": {
                            "Location": {"description": "The source's URL.", "schema": STRING}
                        },
                    },
                    **_errors(400, 409, 422),
                },
                requestBody=_body("FeedSourceCreate"),
            ),
        },
        "/feeds/{source_id}": {
            "get": _operation(
                "getFeedSource",
                "One feed source",
                Permission.READ_FEEDS,
                {"200": _ok("FeedSource", "The source."), **_errors(404)},
                parameters=[SOURCE_ID],
            ),
            "patch": _operation(
                "updateFeedSource",
                "Rename, re-time, enable or disable a feed source",
                Permission.ADMIN_FEEDS,
                {"200": _ok("FeedSource", "The source as changed."), **_errors(400, 404, 422)},
                parameters=[SOURCE_ID],
                requestBody=_body("FeedSourcePatch"),
            ),
        },
    }
)
