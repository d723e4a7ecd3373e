"""The statement-of-applicability register of a profile, written as CSV, JSON or XLSX.

One row per live obligation: its outcome for the profile, the plain-words explanation and the
controls mapped to it. Every format writes the same rows in the same order.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from compliance.applicability.evaluation import ObligationVerdict, Tally
from compliance.exports.tabular import MEDIA_TYPE as XLSX_MEDIA_TYPE
from compliance.exports.tabular import Sheet, write_workbook

COLUMNS = (
    "jurisdiction",
    "instrument",
    "instrument_title",
    "obligation",
    "ref",
    "title",
    "duty",
    "outcome",
    "explanation",
    "open_questions",
    "applies_from",
    "controls",
    "no_control_reason",
)
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": XLSX_MEDIA_TYPE,
}
# A cell starting with one of these is read as a formula by spreadsheet programs (CSV
# injection); a leading apostrophe keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class MappedControl:
    code: str
    title: str
    coverage: str
    state: str

    def __str__(self) -> str:
        return f"{self.code} ({self.coverage}, {self.state})"


@dataclass(frozen=True)
class RegisterRow:
    item: ObligationVerdict
    controls: tuple[MappedControl, ...]

    def values(self) -> list[Any]:
        item, verdict = self.item, self.item.verdict
        return [
            item.jurisdiction,
            item.instrument,
            item.instrument_title,
            item.path,
            item.ref,
            item.title,
            item.duty,
            item.outcome,
            verdict.explanation,
            " | ".join(verdict.questions),
            item.applies_from.isoformat() if item.applies_from else "",
            "; ".join(str(control) for control in self.controls),
            item.no_control_reason,
        ]


@dataclass(frozen=True)
class Register:
    profile_id: int
    profile: dict[str, Any]  # the stated facts (ServiceProfile.snapshot)
    generated_at: datetime
    tally: Tally
    rows: Sequence[RegisterRow]

    def filename(self, fmt: str) -> str:
        stem = "".join(ch if ch.isalnum() else "-" for ch in self.profile["name"].lower())
        stem = "-".join(part for part in stem.split("-") if part) or f"profile-{self.profile_id}"
        return f"applicability-{stem}-{self.generated_at.date().isoformat()}.{fmt}"


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(register: Register, stream: IO[str]) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")  # RFC 4180
    writer.writerow(COLUMNS)
    for row in register.rows:
        writer.writerow([_safe(value) for value in row.values()])


def as_json(register: Register) -> dict[str, Any]:
    tally = register.tally
    return {
        "profile": {"id": register.profile_id, **register.profile},
        "generated_at": register.generated_at.isoformat(),
        "counts": {
            "applies": tally.applies,
            "needs_judgement": tally.needs_judgement,
            "does_not_apply": tally.does_not_apply,
            "total": tally.total,
        },
        "obligations": [_json_row(row) for row in register.rows],
    }


def _json_row(row: RegisterRow) -> dict[str, Any]:
    item, verdict = row.item, row.item.verdict
    return {
        "jurisdiction": item.jurisdiction,
        "instrument": item.instrument,
        "instrument_title": item.instrument_title,
        "obligation": item.path,
        "ref": item.ref,
        "title": item.title,
        "duty": item.duty,
        "outcome": item.outcome,
        "explanation": verdict.explanation,
        "reasons": verdict.reasons,
        "open_questions": verdict.questions,
        "applies_from": _iso(item.applies_from),
        "starts_on": _iso(verdict.starts_on),
        "controls": [
            {"code": c.code, "title": c.title, "coverage": c.coverage, "state": c.state}
            for c in row.controls
        ],
        "no_control_reason": item.no_control_reason,
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def write_xlsx(register: Register, stream: IO[bytes]) -> None:
    facts = [(name, _cell_text(value)) for name, value in register.profile.items()]
    facts.append(("generated_at", register.generated_at.isoformat()))
    write_workbook(
        stream,
        [
            Sheet(
                "Statement of applicability",
                (row.values() for row in register.rows),
                header=COLUMNS,
                width=24,
            ),
            Sheet("Profile", facts, header=("fact", "value"), width=40),
        ],
    )


def _cell_text(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def render(register: Register, fmt: str) -> bytes:
    """The register in one of FORMATS, as bytes to send or save."""
    if fmt == "csv":
        text = io.StringIO()
        write_csv(register, text)
        return text.getvalue().encode("utf-8")
    if fmt == "json":
        return json.dumps(as_json(register), ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "xlsx":
        binary = io.BytesIO()
        write_xlsx(register, binary)
        return binary.getvalue()
    raise ValueError(f"unknown register format {fmt!r}")
