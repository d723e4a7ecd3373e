"""Read and check API input (query arguments, JSON bodies) with errors that name the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compliance.errors import ComplianceError, Invalid
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    MAPPING_STATES,
    ControlMapping,
)
from compliance.mapping.services import MappingInput

MAX_PER_PAGE = 100

# The mapping body's fields and their JSON types; bool is refused where an integer is due.
MAPPING_FIELDS: dict[str, type] = {
    "obligation_id": int,
    "control_id": int,
    "control_code": str,
    "relationship": str,
    "strength": int,
    "rationale_type": str,
    "coverage": str,
    "note": str,
}
MAPPING_REQUIRED = ("obligation_id", "relationship", "strength", "rationale_type", "coverage")
# The pair is the mapping's identity: to move it, delete it and map again.
MAPPING_PATCHABLE = ("relationship", "strength", "rationale_type", "coverage", "note", "state")
_JSON_TYPE_NAMES = {int: "an integer", str: "a string"}


class BadRequest(ComplianceError):
    status_code = 400


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int


def _whole_number(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        message = f"{name} must be a whole number from 1 up, not '{raw[:20]}'."
        raise Invalid(message, details=[message])
    return int(raw)


def paging(args: Mapping[str, str], default_per_page: int) -> Paging:
    """page from 1 and per_page from 1; per_page above MAX_PER_PAGE is capped, not refused."""
    page = _whole_number(args, "page", 1)
    per_page = _whole_number(args, "per_page", default_per_page)
    return Paging(page, min(per_page, MAX_PER_PAGE))


def one_of(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (args.get(name) or "").strip().lower()
    if value and value not in allowed:
        message = f"{name} must be one of: {', '.join(allowed)}"
        raise Invalid(f"Unknown filter value: {message}.", details=[message])
    return value


@dataclass(frozen=True)
class ControlFilters:
    domain: str
    status: str
    text: str


def control_filters(args: Mapping[str, str]) -> ControlFilters:
    return ControlFilters(
        domain=one_of(args, "domain", CONTROL_DOMAINS),
        status=one_of(args, "status", CONTROL_STATUSES),
        text=(args.get("q") or "").strip()[:200],
    )


def json_object(mimetype: str, data: bytes) -> dict[str, Any]:
    """The request body as a JSON object; 400 for another content type or malformed JSON."""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadRequest(
            f"Send the body as JSON with 'Content-Type: application/json' "
            f"(got '{mimetype or 'none'}')."
        )
    try:
        body = json.loads(data)
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8/16/32
        raise BadRequest(f"The body is not valid JSON: {error}.") from error
    if not isinstance(body, dict):
        raise BadRequest(f"The body must be a JSON object, not {type(body).__name__}.")
    return body


def _type_problems(body: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    problems = []
    for name, value in body.items():
        if name not in allowed:
            known = name in MAPPING_FIELDS
            reason = "cannot change" if known else f"unknown field; allowed: {', '.join(allowed)}"
            problems.append(f"{name}: {reason}")
            continue
        expected = MAPPING_FIELDS.get(name, str)
        if type(value) is not expected:  # type() and not isinstance(): True is not a strength
            problems.append(
                f"{name} must be {_JSON_TYPE_NAMES[expected]}, not {json.dumps(value)[:40]}"
            )
    return problems


def _refuse(problems: list[str]) -> None:
    if problems:
        raise Invalid(
            "The request body is not valid: " + "; ".join(problems) + ".", details=problems
        )


def new_mapping(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check a POST /mappings body: every field typed, the required ones present."""
    problems = _type_problems(body, tuple(MAPPING_FIELDS))
    problems += [f"{name} is required" for name in MAPPING_REQUIRED if name not in body]
    if ("control_id" in body) == ("control_code" in body):
        problems.append("give exactly one of control_id and control_code")
    _refuse(problems)
    return {"note": "", **body}


def mapping_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check a PATCH /mappings/<id> body: only the changeable fields, each typed."""
    problems = _type_problems(body, MAPPING_PATCHABLE)
    if isinstance(body.get("state"), str) and body["state"] not in MAPPING_STATES:
        problems.append(f"state must be one of: {', '.join(MAPPING_STATES)}")
    _refuse(problems)
    return dict(body)


def mapping_input(body: Mapping[str, Any], current: ControlMapping | None = None) -> MappingInput:
    """The service's input from checked body fields, the rest taken from current."""

    def value(name: str, attribute: str) -> Any:
        return body[name] if name in body else getattr(current, attribute)

    return MappingInput(
        relationship_type=value("relationship", "relationship_type"),
        strength=value("strength", "strength"),
        rationale_type=value("rationale_type", "rationale_type"),
        coverage=value("coverage", "coverage"),
        note=body.get("note", current.note if current is not None else ""),
    )
