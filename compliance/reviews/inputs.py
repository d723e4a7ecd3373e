"""Read a PATCH /api/v1/reviews/<id> body into ReviewChanges, naming each bad field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from compliance.errors import Invalid
from compliance.reviews.models import STATES
from compliance.reviews.services import MAX_NOTE, ReviewChanges, find_user

FIELDS = ("state", "assignee", "due_on", "decision_note", "note")


def review_changes(body: Mapping[str, Any]) -> ReviewChanges:
    """Check every field, then build the changes; an empty body changes nothing (refused)."""
    problems = [
        f"{name}: unknown field; allowed: {', '.join(FIELDS)}"
        for name in body
        if name not in FIELDS
    ]
    state = body.get("state")
    if "state" in body and (not isinstance(state, str) or state not in STATES):
        problems.append(f"state must be one of: {', '.join(STATES)}")
    for name in ("decision_note", "note"):
        value = body.get(name)
        if name in body and not isinstance(value, str):
            problems.append(f"{name} must be a string, not {json.dumps(value)[:40]}")
        elif isinstance(value, str) and len(value) > MAX_NOTE:
            problems.append(f"{name} may be at most {MAX_NOTE} characters")
    assignee = body.get("assignee")
    if "assignee" in body and assignee is not None and not isinstance(assignee, str):
        problems.append("assignee must be an e-mail address or null")
    due: date | None = None
    raw_due = body.get("due_on")
    if "due_on" in body and raw_due is not None:
        try:
            due = date.fromisoformat(raw_due) if isinstance(raw_due, str) else None
        except ValueError:
            due = None
        if due is None:
            problems.append("due_on must be a date written YYYY-MM-DD, or null")
    if not body:
        problems.append(f"give at least one of: {', '.join(FIELDS)}")
    if problems:
        raise Invalid(
            "The request body is not valid: " + "; ".join(problems) + ".", details=problems
        )
    user_id = find_user(assignee).id if isinstance(assignee, str) and assignee else None
    return ReviewChanges(
        state=state if isinstance(state, str) else None,
        decision_note=body.get("decision_note"),
        note=body.get("note") or None,
        assignee_id=user_id,
        clear_assignee="assignee" in body and not assignee,
        due_on=due,
        clear_due="due_on" in body and raw_due is None,
    )
