"""Read import files and plan their changes: controls and mappings from CSV or XLSX (the
export's own columns), and OSCAL catalogs as a control framework.

Nothing here writes. A plan lists every change; compliance.exports.services applies one in a
single transaction, or shows it as a dry run. Every problem in a file is reported at once, by
row, and a file with any problem changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from compliance.catalogue.models import Obligation, Regulation
from compliance.errors import Invalid
from compliance.exports import oscal, tabular
from compliance.exports.formats import FORMULA_TRIGGERS
from compliance.exports.rows import COLUMNS
from compliance.extensions import db
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
    Control,
    ControlMapping,
)

CONTROL_FIELDS = (
    "control_code",
    "control_title",
    "control_domain",
    "control_owner",
    "control_status",
)
MAPPING_FIELDS = (
    "instrument",
    "obligation_key",
    "relationship",
    "strength",
    "rationale",
    "coverage",
)
REQUIRED_COLUMNS = CONTROL_FIELDS + MAPPING_FIELDS
MAX_PROBLEMS = 50
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*-?$")
_INSERT = re.compile(r"\{\{\s*insert:\s*param,\s*([^}\s]+)\s*\}\}")


@dataclass(frozen=True)
class ImportLimits:
    max_rows: int
    max_unpacked_bytes: int


@dataclass(frozen=True)
class ControlSpec:
    """A control as a file describes it; None means "the file does not say"."""

    code: str
    title: str
    domain: str
    owner_team: str
    status: str
    description: str | None = None
    last_reviewed_on: date | None = None
    has_review_date: bool = False


@dataclass(frozen=True)
class MappingSpec:
    obligation_path: str  # <instrument>/<key>
    control_code: str
    relationship_type: str
    strength: int
    rationale_type: str
    coverage: str
    note: str


@dataclass(frozen=True)
class Change:
    """One row's effect: a control or mapping created, updated (with before/after), or unchanged."""

    kind: str  # "control" or "mapping"
    action: str  # "create", "update" or "unchanged"
    key: str  # a control code, or "<instrument>/<key> -> <code>"
    values: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)
    subject: dict[str, Any] = field(default_factory=dict)  # a mapping's obligation and control

    def describe(self) -> str:
        if self.action == "update":
            changed = ", ".join(
                f"{name}: {self.before[name]!r} → {value!r}"
                for name, value in self.values.items()
                if self.before.get(name) != value
            )
            return f"update {self.kind} {self.key} ({changed})"
        return f"{self.action} {self.kind} {self.key}"


@dataclass(frozen=True)
class ImportPlan:
    """What an import would do (or did)."""

    source: str
    rows: int
    changes: list[Change]

    def count(self, kind: str, action: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind and c.action == action)

    @property
    def changed(self) -> bool:
        return any(change.action != "unchanged" for change in self.changes)

    def summary(self) -> str:
        parts = []
        for kind in ("control", "mapping"):
            counts = [
                f"{self.count(kind, action)} {verb}"
                for action, verb in (("create", "new"), ("update", "changed"))
                if self.count(kind, action)
            ]
            unchanged = self.count(kind, "unchanged")
            if unchanged:
                counts.append(f"{unchanged} unchanged")
            if counts:
                parts.append(f"{kind}s: {', '.join(counts)}")
        return "; ".join(parts) or "nothing to import"


def _refuse(problems: list[str], what: str) -> None:
    """Refuse the import when there are problems: the message names the first few."""
    if not problems:
        return
    count = len(problems)
    shown = problems[:MAX_PROBLEMS]
    if count > MAX_PROBLEMS:
        shown.append(f"… and {count - MAX_PROBLEMS} more")
    first = "; ".join(problems[:3]) + ("; …" if count > 3 else "")
    noun = "problem" if count == 1 else "problems"
    raise Invalid(f"Nothing was imported: {what} {count} {noun}: {first}.", details=shown)


# -- reading tables --------------------------------------------------------------------------


def _restore(value: Any) -> Any:
    """Undo the export's formula guard: "'=x" was "=x"."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def _csv_rows(data: bytes, max_rows: int) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Invalid(
            f"The file is not UTF-8 text: byte 0x{data[error.start]:02x} at position "
            f'{error.start} is not valid UTF-8. Save it as "CSV UTF-8" and try again.'
        ) from error
    if "\x00" in text:
        raise Invalid("The file holds binary data (NUL bytes), not CSV text.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for count, row in enumerate(reader):
            if count > max_rows:
                raise Invalid(
                    f"The file has more than {max_rows:,} rows; an import takes at most "
                    f"{max_rows:,}. Split the file."
                )
            yield row
    except csv.Error as error:
        raise Invalid(f"The CSV is malformed at line {reader.line_num}: {error}.") from error


def read_table(filename: str, data: bytes, limits: ImportLimits) -> Iterator[tuple[Any, ...]]:
    """The rows of a CSV or XLSX file, header first; told apart by content, then by name."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        rows: Iterable[Any] = tabular.read_sheet(
            data,
            max_rows=limits.max_rows,
            max_unpacked=limits.max_unpacked_bytes,
            prefer="Mappings",
        )
    else:
        rows = _csv_rows(data, limits.max_rows)
    for row in rows:
        yield tuple(_restore(value) for value in row)


def _header(row: tuple[Any, ...]) -> list[str]:
    names = [str(value or "").strip().lower() for value in row]
    while names and not names[-1]:
        names.pop()  # spreadsheets often carry empty trailing columns
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(repr(name) for name in unknown)}; the columns are "
            f"those of a mapping export: {', '.join(COLUMNS)}"
        )
    duplicated = sorted({name for name in names if names.count(name) > 1 and name})
    if duplicated:
        problems.append(f"column(s) given twice: {', '.join(duplicated)}")
    if problems:
        raise Invalid(
            "The header row is not an import header: " + "; ".join(problems) + ".", details=problems
        )
    return names


# -- parsing rows ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value).strip()
    return int(text) if text.isdigit() else None


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).strip()
    return date.fromisoformat(text) if text else None


def _choice(
    problems: list[str], where: str, name: str, value: str, allowed: tuple[str, ...]
) -> None:
    if value not in allowed:
        problems.append(f"{where}: {name} {value!r} must be one of: {', '.join(allowed)}")


def _control(
    cells: dict[str, Any], names: list[str], where: str, problems: list[str]
) -> ControlSpec:
    spec = ControlSpec(
        code=_text(cells.get("control_code")).strip().upper(),
        title=_text(cells.get("control_title")).strip(),
        domain=_text(cells.get("control_domain")).strip().lower(),
        owner_team=_text(cells.get("control_owner")).strip(),
        status=_text(cells.get("control_status")).strip().lower(),
        description=_text(cells.get("control_description"))
        if "control_description" in names
        else None,
        has_review_date="last_reviewed_on" in names,
    )
    for name, value, limit in (
        ("control_code", spec.code, 40),
        ("control_title", spec.title, 300),
        ("control_owner", spec.owner_team, 120),
    ):
        if not value:
            problems.append(f"{where}: {name} is empty")
        elif len(value) > limit:
            problems.append(f"{where}: {name} is longer than {limit} characters")
    _choice(problems, where, "control_domain", spec.domain, CONTROL_DOMAINS)
    _choice(problems, where, "control_status", spec.status, CONTROL_STATUSES)
    if spec.has_review_date:
        try:
            reviewed = _day(cells.get("last_reviewed_on"))
        except ValueError:
            problems.append(f"{where}: last_reviewed_on must be a date written YYYY-MM-DD")
        else:
            spec = ControlSpec(**{**spec.__dict__, "last_reviewed_on": reviewed})
    return spec


def _mapping(
    cells: dict[str, Any], code: str, where: str, problems: list[str]
) -> MappingSpec | None:
    instrument = _text(cells.get("instrument")).strip().lower()
    key = _text(cells.get("obligation_key")).strip().lower()
    if not instrument and not key:
        return None  # a control-only row
    if not instrument or not key:
        problems.append(f"{where}: give both instrument and obligation_key, or neither")
        return None
    strength = _whole(cells.get("strength"))
    spec = MappingSpec(
        obligation_path=f"{instrument}/{key}",
        control_code=code,
        relationship_type=_text(cells.get("relationship")).strip().lower(),
        strength=strength or 0,
        rationale_type=_text(cells.get("rationale")).strip().lower(),
        coverage=_text(cells.get("coverage")).strip().lower(),
        note=_text(cells.get("note")),
    )
    _choice(problems, where, "relationship", spec.relationship_type, RELATIONSHIPS)
    _choice(problems, where, "rationale", spec.rationale_type, RATIONALE_TYPES)
    _choice(problems, where, "coverage", spec.coverage, COVERAGES)
    if strength is None or not 1 <= strength <= 10:
        problems.append(f"{where}: strength must be a whole number from 1 to 10")
    return spec


def parse_table(
    filename: str, data: bytes, limits: ImportLimits
) -> tuple[int, list[ControlSpec], list[MappingSpec]]:
    """Rows of an import table as controls and mappings; refuse the file on any problem."""
    rows = read_table(filename, data, limits)
    first = next(rows, None)
    if first is None:
        raise Invalid("The file is empty: it needs a header row and at least one row.")
    names = _header(first)
    controls: dict[str, tuple[ControlSpec, str]] = {}
    mappings: dict[str, MappingSpec] = {}
    problems: list[str] = []
    count = 0
    for number, row in enumerate(rows, start=2):
        if not any(_text(value).strip() for value in row):
            continue  # blank lines and empty spreadsheet rows
        count += 1
        where = f"row {number}"
        cells = dict(zip(names, row, strict=False))
        control = _control(cells, names, where, problems)
        earlier = controls.get(control.code)
        if earlier is not None and earlier[0] != control:
            problems.append(f"{where}: control {control.code} differs from {earlier[1]}")
        elif earlier is None and control.code:
            controls[control.code] = (control, where)
        mapping = _mapping(cells, control.code, where, problems)
        if mapping is not None:
            pair = f"{mapping.obligation_path} -> {mapping.control_code}"
            if pair in mappings:
                problems.append(f"{where}: the pair {pair} is given twice")
            mappings[pair] = mapping
    if not count and not problems:
        problems.append("the file has a header but no rows")
    _refuse(problems, "the file has")
    return count, [spec for spec, _ in controls.values()], list(mappings.values())


# -- OSCAL catalogs --------------------------------------------------------------------------


def _prose(part: dict[str, Any], labels: dict[str, str]) -> list[str]:
    label = next((p["value"] for p in part.get("props", []) if p.get("name") == "label"), "")
    lines = []
    if part.get("prose"):
        text = _INSERT.sub(lambda m: f"[{labels.get(m.group(1), m.group(1))}]", part["prose"])
        lines.append(f"{label} {text}".strip())
    for child in part.get("parts", []):
        lines += _prose(child, labels)
    return lines


def _param_labels(node: Any, labels: dict[str, str]) -> None:
    if isinstance(node, dict):
        for param in node.get("params", []):
            labels[param["id"]] = param.get("label") or param["id"]
        for value in node.values():
            _param_labels(value, labels)
    elif isinstance(node, list):
        for value in node:
            _param_labels(value, labels)


def _withdrawn(control: dict[str, Any]) -> bool:
    return any(
        p.get("name") == "status" and p.get("value") == "withdrawn"
        for p in control.get("props", [])
    )


def parse_oscal_catalog(
    data: bytes, *, prefix: str, domain: str, owner_team: str, status: str, max_controls: int
) -> tuple[int, list[ControlSpec]]:
    """An OSCAL catalog's controls (enhancements too; withdrawn ones skipped) as controls coded
    prefix + id, upper-cased; refuse an invalid catalog, naming its problems."""
    problems = []
    if not _PREFIX.match(prefix) or len(prefix) > 20:
        problems.append("prefix must be letters and digits, words joined by '-', e.g. NIST-")
    if domain not in CONTROL_DOMAINS:
        problems.append(f"domain must be one of: {', '.join(CONTROL_DOMAINS)}")
    if status not in CONTROL_STATUSES:
        problems.append(f"status must be one of: {', '.join(CONTROL_STATUSES)}")
    if not owner_team.strip() or len(owner_team) > 120:
        problems.append("owner team is required (at most 120 characters)")
    _refuse(problems, "the import options have")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise Invalid(f"The file is not JSON: {error}.") from error
    if not isinstance(document, dict) or "catalog" not in document:
        raise Invalid(
            "The file is not an OSCAL catalog: its root must be a 'catalog' object (OSCAL JSON)."
        )
    schema = oscal.load_schema(oscal.SCHEMA_DIR / "oscal_catalog_schema.json")
    _refuse(
        oscal.schema_problems(document, schema) + oscal.id_problems(document),
        "the OSCAL catalog (checked against the OSCAL 1.2.3 schema) has",
    )
    labels: dict[str, str] = {}
    _param_labels(document, labels)
    specs = []
    for control in oscal.walk(document["catalog"], "controls"):
        if _withdrawn(control):
            continue
        code = (prefix + control["id"]).upper()
        if len(code) > 40:
            problems.append(f"control {control['id']}: the code {code} is longer than 40")
        statement = [p for p in control.get("parts", []) if p.get("name") == "statement"]
        description = "\n".join(line for part in statement for line in _prose(part, labels))
        specs.append(
            ControlSpec(
                code=code,
                title=" ".join(control["title"].split())[:300],
                domain=domain,
                owner_team=owner_team.strip(),
                status=status,
                description=description,
            )
        )
    if len(specs) > max_controls:
        problems.append(f"the catalog has {len(specs):,} controls; at most {max_controls:,}")
    if not specs:
        problems.append("the catalog has no controls")
    _refuse(problems, "the OSCAL catalog has")
    return len(specs), specs


# -- planning --------------------------------------------------------------------------------


def _control_values(spec: ControlSpec, current: Control | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": spec.title,
        "domain": spec.domain,
        "owner_team": spec.owner_team,
        "status": spec.status,
    }
    if spec.description is not None:
        values["description"] = spec.description
    elif current is None:
        values["description"] = ""
    if spec.has_review_date:
        values["last_reviewed_on"] = spec.last_reviewed_on
    return values


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    # SQLite caps the parameters of one statement; large IN lists go in slices.
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _obligations(paths: set[str]) -> dict[str, Obligation]:
    slugs = sorted({path.split("/")[0] for path in paths})
    found: dict[str, Obligation] = {}
    for chunk in _chunks(slugs):
        query = (
            select(Obligation)
            .join(Obligation.regulation)
            .where(Regulation.slug.in_(chunk))
            .options(contains_eager(Obligation.regulation))
        )
        found.update((o.path, o) for o in db.session.scalars(query).unique())
    return {path: found[path] for path in paths if path in found}


def controls_by_code(codes: list[str]) -> dict[str, Control]:
    found: dict[str, Control] = {}
    for chunk in _chunks(codes):
        found.update(
            (c.code, c) for c in db.session.scalars(select(Control).where(Control.code.in_(chunk)))
        )
    return found


def _mappings(control_ids: list[int]) -> dict[tuple[int, int], ControlMapping]:
    found: dict[tuple[int, int], ControlMapping] = {}
    for chunk in _chunks(control_ids):
        query = select(ControlMapping).where(ControlMapping.control_id.in_(chunk))
        found.update(((m.obligation_id, m.control_id), m) for m in db.session.scalars(query))
    return found


def plan_import(
    source: str, rows: int, controls: list[ControlSpec], mappings: list[MappingSpec]
) -> ImportPlan:
    """Compare the file with the database; refuse mappings to unknown or retired obligations,
    or to controls that neither exist nor come with the file."""
    existing = controls_by_code(
        sorted({spec.code for spec in controls} | {m.control_code for m in mappings})
    )
    current_mappings = _mappings([control.id for control in existing.values()])
    changes = []
    for spec in controls:
        current = existing.get(spec.code)
        values = _control_values(spec, current)
        if current is None:
            changes.append(Change("control", "create", spec.code, {"code": spec.code, **values}))
            continue
        before = {name: getattr(current, name) for name in values}
        action = "unchanged" if before == values else "update"
        changes.append(Change("control", action, spec.code, values, before))
    problems = []
    obligations = _obligations({m.obligation_path for m in mappings})
    for wanted in mappings:
        obligation = obligations.get(wanted.obligation_path)
        if obligation is None:
            problems.append(f"{wanted.obligation_path}: no such obligation in the catalogue")
            continue
        if obligation.retired_at is not None or obligation.regulation.retired_at is not None:
            problems.append(f"{wanted.obligation_path}: the obligation is retired")
            continue
        values = {
            "relationship_type": wanted.relationship_type,
            "strength": wanted.strength,
            "rationale_type": wanted.rationale_type,
            "coverage": wanted.coverage,
            "note": wanted.note,
        }
        key = f"{wanted.obligation_path} -> {wanted.control_code}"
        subject = {"obligation_id": obligation.id, "control_code": wanted.control_code}
        control = existing.get(wanted.control_code)
        mapped = current_mappings.get((obligation.id, control.id)) if control else None
        if mapped is None:
            changes.append(Change("mapping", "create", key, values, subject=subject))
            continue
        before = {name: getattr(mapped, name) for name in values}
        action = "unchanged" if before == values else "update"
        changes.append(
            Change("mapping", action, key, values, before, {**subject, "mapping_id": mapped.id})
        )
    _refuse(problems, "the file has")
    return ImportPlan(source, rows, changes)
