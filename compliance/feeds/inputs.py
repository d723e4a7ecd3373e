"""Read POST and PATCH /api/v1/feeds bodies, naming each bad field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from compliance.errors import Invalid

# Each field and its JSON type; type() and not isinstance(), so true is not an interval.
CREATE_FIELDS: dict[str, type] = {"url": str, "name": str, "interval_minutes": int, "enabled": bool}
PATCH_FIELDS = ("name", "interval_minutes", "enabled")
_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


def _problems(body: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    problems = []
    for name, value in body.items():
        if name not in allowed:
            problems.append(f"{name}: unknown field; allowed: {', '.join(allowed)}")
        elif type(value) is not CREATE_FIELDS[name]:
            problems.append(
                f"{name} must be {_NAMES[CREATE_FIELDS[name]]}, not {json.dumps(value)[:40]}"
            )
    return problems


def _refuse(problems: list[str]) -> None:
    if problems:
        raise Invalid(
            "The request body is not valid: " + "; ".join(problems) + ".", details=problems
        )


def new_source(body: Mapping[str, Any]) -> dict[str, Any]:
    problems = _problems(body, tuple(CREATE_FIELDS))
    if "url" not in body:
        problems.append("url is required")
    _refuse(problems)
    return {"name": "", "interval_minutes": None, "enabled": True, **body}


def source_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    problems = _problems(body, PATCH_FIELDS)
    if not body:
        problems.append(f"give at least one of: {', '.join(PATCH_FIELDS)}")
    _refuse(problems)
    return dict(body)
