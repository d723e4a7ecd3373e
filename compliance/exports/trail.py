"""The audit trail as CSV or JSON, oldest first, with what an auditor needs to re-check it.

Each event's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
{"prev": prev_hash, "at": at, "actor_id": actor_id, "actor": actor, "action": action,
"entity": [entity_type, entity_id], "summary": summary, "before": before, "after": after},
with "at" exactly as exported; prev_hash is the hash of the event before (64 zeros for the
first). The JSON export carries every value as hashed; CSV cells are made safe for
spreadsheets, so verify from the JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from compliance.audit.models import AuditEvent
from compliance.audit.services import AuditFilter, ChainReport, events_query
from compliance.exports.formats import spreadsheet_text
from compliance.exports.rows import BATCH
from compliance.extensions import db

TRAIL_FORMAT = "compliance-audit-trail"
TRAIL_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "summary",
    "before",
    "after",
    "prev_hash",
    "hash",
)
HASH_RECIPE = " ".join((__doc__ or "").split("\n\n")[1].split())


def _events(filters: AuditFilter) -> Iterator[Any]:
    query = (
        events_query(filters)
        .with_only_columns(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor_id,
            AuditEvent.actor_label,
            AuditEvent.action,
            AuditEvent.entity_type,
            AuditEvent.entity_id,
            AuditEvent.summary,
            AuditEvent.before,
            AuditEvent.after,
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        .order_by(None)
        .order_by(AuditEvent.id)  # chain order: each event follows the one it links to
    )
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


def _event_json(row: Any) -> dict[str, Any]:
    values = dict(zip(TRAIL_COLUMNS, row, strict=True))
    # The exact text the hash was computed over (compliance.audit.services._event_hash).
    values["at"] = row[1].astimezone(UTC).isoformat(timespec="microseconds")
    return values


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_trail_csv(filters: AuditFilter, stream: IO[bytes], *, bom: bool = False) -> int:
    """The events matching filters as RFC 4180 CSV; before/after as canonical JSON text."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig" if bom else "utf-8", newline="")
    count = 0
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(TRAIL_COLUMNS)
        for row in _events(filters):
            values = _event_json(row)
            values["before"], values["after"] = (
                _canonical(values["before"]),
                _canonical(values["after"]),
            )
            writer.writerow([spreadsheet_text(values[name]) for name in TRAIL_COLUMNS])
            count += 1
        text.flush()
    finally:
        text.detach()
    return count


def write_trail_json(
    filters: AuditFilter,
    stream: IO[bytes],
    *,
    generated_at: datetime,
    chain: ChainReport,
) -> int:
    """The events matching filters as one JSON document, with the chain's state when written."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
    count = 0
    try:
        head = {
            "format": TRAIL_FORMAT,
            "schema_version": "1.0",
            "generated_at": generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "filters": filters.as_args(),
            "hash_recipe": HASH_RECIPE,
            "chain": {
                "intact": chain.intact,
                "checked": chain.checked,
                "first_broken_id": chain.first_broken_id,
                "reason": chain.reason,
            },
        }
        text.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "events": [')
        for row in _events(filters):
            text.write(("," if count else "") + "\n  ")
            text.write(json.dumps(_event_json(row), ensure_ascii=False))
            count += 1
        text.write('\n ],\n "summary": ' + json.dumps({"events": count}) + "\n}\n")
        text.flush()
    finally:
        text.detach()
    return count
