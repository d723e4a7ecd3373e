"""Check every catalogue file against the schema and against each other, with file and line."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from compliance.catalogue.schema import LIST_KINDS, schema_for
from compliance.catalogue.source import Path_, SourceDocument, read_document

_FORMATS = FormatChecker(formats=["date"])
_VALIDATORS = {
    kind: Draft202012Validator(schema_for(kind), format_checker=_FORMATS)
    for kind in (*LIST_KINDS, "instrument")
}


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Entry:
    """One record of the catalogue with where it came from."""

    data: dict[str, Any]
    document: SourceDocument
    where: Path_

    @property
    def line(self) -> int:
        return self.document.line_of(self.where)


@dataclass
class Catalogue:
    """Everything read from a catalogue directory, and every problem found in it."""

    root: Path
    topics: dict[str, Entry] = field(default_factory=dict)
    jurisdictions: dict[str, Entry] = field(default_factory=dict)
    regulators: dict[str, Entry] = field(default_factory=dict)
    instruments: dict[str, Entry] = field(default_factory=dict)
    controls: dict[str, Entry] = field(default_factory=dict)
    mappings: dict[tuple[str, str], Entry] = field(default_factory=dict)
    feeds: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    # Stems of files that could not be read as instruments; since a slug equals its file name,
    # references to these slugs are not reported again on top of the file's own problem.
    unreadable: set[str] = field(default_factory=set)

    def obligation_paths(self) -> set[str]:
        return {
            f"{slug}/{obligation['key']}"
            for slug, entry in self.instruments.items()
            for obligation in entry.data["obligations"]
        }

    def add_problem(self, document: SourceDocument, line: int, message: str) -> None:
        self.problems.append(Problem(self._relative(document.path), line, message))

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)


def catalogue_files(root: Path) -> list[Path]:
    """Every YAML file under root, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def read_catalogue(root: Path, on_file: Callable[[Path], None] | None = None) -> Catalogue:
    """Parse and check the whole catalogue; the result lists every problem, in file order."""
    catalogue = Catalogue(root)
    if not root.is_dir():
        catalogue.problems.append(Problem(str(root), 0, "catalogue directory not found"))
        return catalogue
    for path in catalogue_files(root):
        catalogue.files += 1
        _read_file(catalogue, read_document(path))
        if on_file is not None:
            on_file(path)
    _check_references(catalogue)
    catalogue.problems.sort()
    return catalogue


def _kind_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if "slug" in data:
        return "instrument"
    kinds = [kind for kind in LIST_KINDS if kind in data]
    return kinds[0] if len(kinds) == 1 else None


def _schema_problems(document: SourceDocument, errors: Iterable[ValidationError]) -> list[Problem]:
    found = []
    for error in errors:
        where = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = schema.get("properties", {})
            for key in error.instance:
                if key not in allowed:
                    line = document.line_of((*where, key))
                    found.append(Problem("", line, f"unknown key '{key}'{_at(where)}"))
            continue
        if error.validator == "required":
            message = f"{error.message.replace(' is a required property', '')} is required"
        elif error.validator == "format":
            message = f"{error.instance!r} is not a valid date (use YYYY-MM-DD)"
        elif error.validator == "enum":
            choices = ", ".join(str(v) for v in error.validator_value)  # type: ignore[union-attr]
            message = f"{error.instance!r} is not one of: {choices}"
        elif error.validator == "pattern":
            message = f"{error.instance!r} is not in the expected form"
        else:
            message = error.message
        found.append(Problem("", document.line_of(where), f"{message}{_at(where)}"))
    return found


def _at(where: Path_) -> str:
    return f" (at {'.'.join(str(p) for p in where)})" if where else ""


def _read_file(catalogue: Catalogue, document: SourceDocument) -> None:
    for source_problem in document.problems:
        catalogue.add_problem(document, source_problem.line, source_problem.message)
    if document.problems or document.data is None:
        catalogue.unreadable.add(document.path.stem)
        return
    kind = _kind_of(document.data)
    if kind is None:
        expected = ", ".join(LIST_KINDS)
        catalogue.add_problem(
            document,
            1,
            f"not a catalogue file: expected an instrument (slug: ...) or one of {expected}",
        )
        catalogue.unreadable.add(document.path.stem)
        return
    for problem in _schema_problems(document, _VALIDATORS[kind].iter_errors(document.data)):
        catalogue.add_problem(document, problem.line, problem.message)
    # Register what is well-formed enough even when the file has problems, so the files that
    # point at it do not get spurious "unknown ..." reports on top of the real one.
    if kind != "instrument":
        _add_records(catalogue, document, kind)
    elif _instrument_shape_ok(document.data):
        _add_instrument(catalogue, document)
    else:
        catalogue.unreadable.add(document.path.stem)


def _instrument_shape_ok(data: dict[str, Any]) -> bool:
    obligations = data.get("obligations")
    return (
        isinstance(data.get("slug"), str)
        and isinstance(data.get("topics", []), list)
        and isinstance(obligations, list)
        and all(
            isinstance(o, dict)
            and isinstance(o.get("key"), str)
            and isinstance(o.get("topics", []), list)
            for o in obligations
        )
    )


_RECORD_KEYS = {
    "topics": "slug",
    "jurisdictions": "code",
    "regulators": "slug",
    "controls": "code",
    "feeds": "url",
}


def _add_records(catalogue: Catalogue, document: SourceDocument, kind: str) -> None:
    records = document.data[kind]
    for index, record in enumerate(records if isinstance(records, list) else []):
        if not isinstance(record, dict):
            continue  # the schema has reported it
        entry = Entry(record, document, (kind, index))
        if kind == "mappings":
            obligation, control = record.get("obligation"), record.get("control")
            if isinstance(obligation, str) and isinstance(control, str):
                label = f"mapping of {obligation} to {control}"
                _add_unique(catalogue, catalogue.mappings, (obligation, control), entry, label)
            continue
        key = record.get(_RECORD_KEYS[kind])
        if isinstance(key, str):
            _add_unique(catalogue, getattr(catalogue, kind), key, entry, f"{kind[:-1]} '{key}'")


def _add_unique(
    catalogue: Catalogue, table: dict[Any, Entry], key: Any, entry: Entry, label: str
) -> None:
    if key in table:
        first = table[key]
        catalogue.add_problem(
            entry.document,
            entry.line,
            f"duplicate {label} (first defined at "
            f"{catalogue._relative(first.document.path)}:{first.line})",
        )
        return
    table[key] = entry


def _add_instrument(catalogue: Catalogue, document: SourceDocument) -> None:
    data = document.data
    slug = data["slug"]
    if document.path.stem != slug:
        catalogue.add_problem(
            document, document.line_of(("slug",)), f"slug '{slug}' must match the file name"
        )
    seen: dict[str, int] = {}
    for index, obligation in enumerate(data["obligations"]):
        key = obligation["key"]
        line = document.line_of(("obligations", index, "key"))
        if key in seen:
            catalogue.add_problem(
                document, line, f"duplicate obligation key '{key}' (first at line {seen[key]})"
            )
        else:
            seen[key] = line
    _check_dates(catalogue, document)
    _add_unique(catalogue, catalogue.instruments, slug, Entry(data, document, ()), f"slug '{slug}'")


def _check_dates(catalogue: Catalogue, document: SourceDocument) -> None:
    dates = {}
    raw = document.data.get("dates")
    for name, value in raw.items() if isinstance(raw, dict) else []:
        try:
            dates[name] = date.fromisoformat(str(value))
        except ValueError:
            continue  # the schema has reported it
    adopted, in_force = dates.get("adopted"), dates.get("in_force")
    if adopted and in_force and in_force < adopted:
        catalogue.add_problem(
            document, document.line_of(("dates", "in_force")), "in_force is before adopted"
        )


def _check_references(catalogue: Catalogue) -> None:
    def missing(entry: Entry, where: Path_, what: str, value: str) -> None:
        catalogue.add_problem(
            entry.document, entry.document.line_of(where), f"unknown {what} '{value}'"
        )

    def check(entry: Entry, name: str, table: dict[str, Entry], what: str) -> None:
        value = entry.data.get(name)
        if isinstance(value, str) and value not in table:  # other values: the schema reported
            missing(entry, (*entry.where, name), what, value)

    for code, entry in catalogue.jurisdictions.items():
        check(entry, "parent", catalogue.jurisdictions, "parent jurisdiction")
        if entry.data.get("parent") == code:
            missing(entry, (*entry.where, "parent"), "parent (a jurisdiction's own code)", code)
    for entry in catalogue.regulators.values():
        check(entry, "jurisdiction", catalogue.jurisdictions, "jurisdiction")
    for entry in catalogue.instruments.values():
        _check_instrument_references(catalogue, entry, missing)
    for entry in catalogue.feeds.values():
        check(entry, "regulator", catalogue.regulators, "regulator")
        check(entry, "jurisdiction", catalogue.jurisdictions, "jurisdiction")
    obligations = catalogue.obligation_paths()
    for (obligation, control), entry in catalogue.mappings.items():
        slug = obligation.partition("/")[0]
        if obligation not in obligations and slug not in catalogue.unreadable:
            missing(entry, (*entry.where, "obligation"), "obligation", obligation)
        if control not in catalogue.controls:
            missing(entry, (*entry.where, "control"), "control", control)


def _check_instrument_references(
    catalogue: Catalogue, entry: Entry, missing: Callable[[Entry, Path_, str, str], None]
) -> None:
    data = entry.data
    jurisdiction = data.get("jurisdiction")
    if isinstance(jurisdiction, str) and jurisdiction not in catalogue.jurisdictions:
        missing(entry, ("jurisdiction",), "jurisdiction", jurisdiction)
    if isinstance(data.get("regulator"), str) and data["regulator"] not in catalogue.regulators:
        missing(entry, ("regulator",), "regulator", data["regulator"])
    if isinstance(data.get("implements"), str) and data["implements"] not in catalogue.instruments:
        missing(entry, ("implements",), "instrument (implements)", data["implements"])
    if data.get("implements") == data.get("slug"):
        missing(entry, ("implements",), "instrument (implements itself)", data["slug"])
    conditions: list[tuple[Path_, Any]] = [(("applies_when",), data.get("applies_when"))]
    _check_topics(catalogue, entry, data, (), missing)
    for index, obligation in enumerate(data["obligations"]):
        _check_topics(catalogue, entry, obligation, ("obligations", index), missing)
        conditions.append((("obligations", index, "applies_when"), obligation.get("applies_when")))
    for where, condition in conditions:
        users = condition.get("users") if isinstance(condition, dict) else None
        for code in users if isinstance(users, dict) else {}:
            if code not in catalogue.jurisdictions:
                missing(entry, (*where, "users", code), "jurisdiction in users", code)


def _check_topics(
    catalogue: Catalogue,
    entry: Entry,
    record: dict[str, Any],
    where: Path_,
    missing: Callable[[Entry, Path_, str, str], None],
) -> None:
    for index, topic in enumerate(record.get("topics", [])):
        if isinstance(topic, str) and topic not in catalogue.topics:  # others: schema reported
            missing(entry, (*where, "topics", index), "topic", topic)
