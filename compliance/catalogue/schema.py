"""The one JSON Schema every catalogue file is checked against, with a definition per kind."""

from __future__ import annotations

from typing import Any

from compliance.catalogue.models import DUTIES, INSTRUMENT_TYPES, LEVELS, STATUSES
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
)

# The applicability vocabulary (regulations/README.md): facts a service profile can state.
SERVICE_KINDS = (
    "online-service",
    "intermediary",
    "mere-conduit",
    "caching",
    "hosting",
    "online-platform",
    "marketplace",
    "search",
    "user-to-user",
    "social-media",
    "video-sharing",
    "messaging",
    "app-store",
    "adult-content",
    "gaming",
    "dating",
    "ai-service",
    "ads-intermediary",
)
FEATURES = (
    "recommender",
    "advertising",
    "targeted-advertising",
    "live-streaming",
    "direct-messages",
    "e2ee",
    "user-generated-content",
    "payments",
    "generative-ai",
    "search-function",
    "geolocation",
    "personal-data",
)
CHILD_ACCESS = ("directed", "likely", "known")
COMPANY_SIZES = ("micro", "small", "medium", "large")

# Kinds of file, told apart by their top-level key; an instrument file has a "slug".
LIST_KINDS = ("topics", "jurisdictions", "regulators", "controls", "mappings", "feeds")

_SLUG = {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 120}
_TEXT = {"type": "string", "minLength": 1}
_URL = {"type": "string", "pattern": "^https?://[^\\s]+$", "maxLength": 500}
_DATE = {"type": "string", "format": "date"}
_CODE = {"type": "string", "pattern": "^(INT|EU|[A-Z]{2}(-[A-Z0-9]{1,3}(-[A-Z0-9]{2,6})?)?)$"}


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _record(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _list_of(definition: str) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{definition}"}}


_THRESHOLD = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {
        "at_least": {"type": "integer", "minimum": 0},
        "below": {"type": "integer", "minimum": 1},
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://compliance.invalid/schema/catalogue.json",
    "$defs": {
        "applies_when": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "service": {"type": "array", "minItems": 1, "items": _enum(SERVICE_KINDS)},
                "users": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": _CODE,
                    "additionalProperties": _THRESHOLD,
                },
                # One value, or a list meaning any of them (COPPA: directed OR known).
                "children": {
                    "oneOf": [
                        _enum(CHILD_ACCESS),
                        {"type": "array", "minItems": 1, "items": _enum(CHILD_ACCESS)},
                    ]
                },
                "features": {"type": "array", "minItems": 1, "items": _enum(FEATURES)},
                "company_size_exempt": {
                    "type": "array",
                    "minItems": 1,
                    "items": _enum(COMPANY_SIZES),
                },
                "judgement": _TEXT,
            },
        },
        "topics_list": {"type": "array", "minItems": 1, "items": _SLUG},
        "obligation": _record(
            ["key", "ref", "title", "summary", "duty", "topics", "source_url"],
            {
                "key": _SLUG,
                "ref": _TEXT,
                "title": _TEXT,
                "summary": _TEXT,
                "duty": _enum(DUTIES),
                "applies_when": {"$ref": "#/$defs/applies_when"},
                "threshold": _TEXT,
                "effective_on": _DATE,
                "topics": {"$ref": "#/$defs/topics_list"},
                "source_url": _URL,
                "no_control": _TEXT,
            },
        ),
        "instrument": _record(
            [
                "slug",
                "title",
                "short_title",
                "citation",
                "jurisdiction",
                "type",
                "status",
                "url",
                "summary",
                "topics",
                "obligations",
            ],
            {
                "slug": _SLUG,
                "title": _TEXT,
                "short_title": _TEXT,
                "citation": _TEXT,
                "jurisdiction": _CODE,
                "type": _enum(INSTRUMENT_TYPES),
                "status": _enum(STATUSES),
                "status_note": _TEXT,
                "dates": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"adopted": _DATE, "in_force": _DATE, "applies_from": _DATE},
                },
                "regulator": _SLUG,
                "url": _URL,
                "summary": _TEXT,
                "max_penalty": _TEXT,
                "topics": {"$ref": "#/$defs/topics_list"},
                "aliases": {"type": "array", "items": _TEXT},
                "implements": _SLUG,
                "applies_when": {"$ref": "#/$defs/applies_when"},
                "obligations": _list_of("obligation"),
            },
        ),
        "topic": _record(
            ["slug", "name", "description"], {"slug": _SLUG, "name": _TEXT, "description": _TEXT}
        ),
        "jurisdiction": _record(
            ["code", "name", "level"],
            {"code": _CODE, "name": _TEXT, "level": _enum(LEVELS), "parent": _CODE},
        ),
        "regulator": _record(
            ["slug", "name", "jurisdiction"],
            {"slug": _SLUG, "name": _TEXT, "jurisdiction": _CODE, "url": _URL},
        ),
        "control": _record(
            ["code", "title", "description", "domain", "owner_team", "status"],
            {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"},
                "title": _TEXT,
                "description": _TEXT,
                "domain": _enum(CONTROL_DOMAINS),
                "owner_team": _TEXT,
                "status": _enum(CONTROL_STATUSES),
                "review_interval_days": {"type": "integer", "minimum": 1, "maximum": 3650},
            },
        ),
        "mapping": _record(
            ["obligation", "control", "relationship", "strength", "rationale", "coverage"],
            {
                "obligation": {"type": "string", "pattern": "^[a-z0-9-]+/[a-z0-9-]+$"},
                "control": {"type": "string", "minLength": 1},
                "relationship": _enum(RELATIONSHIPS),
                "strength": {"type": "integer", "minimum": 1, "maximum": 10},
                "rationale": _enum(RATIONALE_TYPES),
                "coverage": _enum(COVERAGES),
                "note": _TEXT,
            },
        ),
        "feed": _record(
            ["name", "url", "regulator", "jurisdiction", "confirmed"],
            {
                "name": _TEXT,
                "url": _URL,
                "regulator": _SLUG,
                "jurisdiction": _CODE,
                # True only when the URL was read off the publisher's own pages.
                "confirmed": {"type": "boolean"},
                "interval_minutes": {"type": "integer", "minimum": 15, "maximum": 10080},
                "note": _TEXT,
            },
        ),
        **{
            f"{kind}_file": _record([kind], {kind: _list_of(kind.removesuffix("s"))})
            for kind in LIST_KINDS
        },
    },
}


def schema_for(kind: str) -> dict[str, Any]:
    """The schema of one kind of file, resolving its references within SCHEMA."""
    target = "instrument" if kind == "instrument" else f"{kind}_file"
    return {**SCHEMA, "$ref": f"#/$defs/{target}"}
