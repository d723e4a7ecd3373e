"""OSCAL 1.2.3 documents from export rows, and the checks the JSON Schema cannot make.

Three documents: the law obligations as one catalog (a group per instrument, a control per
obligation), the internal controls as another, and a mapping-collection from the first to the
second. Each map reads "obligation RELATIONSHIP control" (NIST IR 8477 set theory, with the
law as the focal document, as BSI and NIST's own examples do). Pure: no database, no files.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import regex
from jsonschema import Draft7Validator, ValidationError, validators

from compliance.exports.rows import ControlRow, MappingRow, ObligationRow
from compliance.mapping.models import RELATIONSHIPS

OSCAL_VERSION = "1.2.3"
# Our own namespace for props, so OSCAL's allowed-values rules on prop names do not apply.
# The .invalid domain (RFC 2606) marks it as a name, never an address to fetch.
NS = "https://compliance.invalid/ns/oscal"
# uuid5 namespace: the same obligation-control pair gets the same map uuid in every export.
UUID_NAMESPACE = uuid.UUID("9b0f4a52-6f5e-4c8e-9d7c-2a8f3f1e6b10")

LAW_CATALOG = "law-obligations.catalog.json"
CONTROLS_CATALOG = "internal-controls.catalog.json"
MAPPING_COLLECTION = "obligations-to-controls.mapping.json"
DOCUMENTS = (LAW_CATALOG, CONTROLS_CATALOG, MAPPING_COLLECTION)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"  # copies of NIST's release files

JSON = dict[str, Any]


class OscalProblem(ValueError):
    """A document breaks a rule the OSCAL JSON Schema leaves to the application."""


# -- values --------------------------------------------------------------------------------


def token(text: str) -> str:
    """text as an OSCAL token (an XML NCName): letters, digits, '.', '-', '_'.

    Other characters become '_'; a token may not start with a digit, so one gets '_' in front.
    """
    chars = [
        ch if unicodedata.category(ch)[0] in "LN" or ch in ".-_" else "_" for ch in text.strip()
    ]
    result = "".join(chars) or "_"
    return result if unicodedata.category(result[0])[0] == "L" or result[0] == "_" else "_" + result


def obligation_id(instrument: str, key: str) -> str:
    return token(f"{instrument}.{key}")


def control_id(code: str) -> str:
    return token(code)


def _line(text: str | None, fallback: str = "") -> str:
    """One line with no surrounding space: OSCAL's string and markup-line types."""
    return " ".join(str(text or "").split()) or fallback


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _props(*pairs: tuple[str, object]) -> list[JSON]:
    """Namespaced props; empty values are left out (a prop value may not be empty)."""
    return [
        {"name": name, "ns": NS, "value": _line(str(value))}
        for name, value in pairs
        if value is not None and _line(str(value))
    ]


@dataclass(frozen=True)
class DocumentInfo:
    """What every document's metadata says about the export it belongs to."""

    generated_at: datetime
    version: str  # e.g. "2026-12-01" for an as-of export, else the generation time
    scope: str  # the filters in words

    def metadata(self, title: str) -> JSON:
        return {
            "title": title,
            "last-modified": _stamp(self.generated_at),
            "version": _line(self.version, "1"),
            "oscal-version": OSCAL_VERSION,
            "props": _props(("export-scope", self.scope)),
        }


# -- the two catalogs ------------------------------------------------------------------------


def law_catalog(obligations: Iterable[ObligationRow], info: DocumentInfo) -> JSON:
    """The obligations as a catalog: a group per instrument, a control per obligation."""
    groups: list[JSON] = []
    current: JSON | None = None
    for row in obligations:  # ordered by instrument, so each group's rows are together
        if current is None or current["id"] != token(row.instrument):
            current = {
                "id": token(row.instrument),
                "class": "instrument",
                "title": _line(row.instrument_title, row.instrument),
                "props": _props(
                    ("jurisdiction", row.jurisdiction),
                    ("citation", row.instrument_citation),
                    ("instrument-slug", row.instrument),
                    ("instrument-hash", row.instrument_hash),
                ),
                "controls": [],
            }
            groups.append(current)
        control_token = obligation_id(row.instrument, row.obligation_key)
        control: JSON = {
            "id": control_token,
            "class": "obligation",
            "title": _line(row.obligation_title, row.obligation_key),
            "props": [
                {"name": "label", "value": _line(row.obligation_ref, row.obligation_key)},
                *_props(
                    ("obligation-key", row.obligation_key),
                    ("no-control-reason", row.no_control_reason),
                ),
            ],
        }
        if row.obligation_summary.strip():
            control["parts"] = [
                {"id": f"{control_token}_smt", "name": "statement", "prose": row.obligation_summary}
            ]
        current["controls"].append(control)
    catalog: JSON = {
        "uuid": str(uuid.uuid4()),  # a new document uuid per export, as OSCAL asks
        "metadata": info.metadata("Online-safety law obligations"),
    }
    if groups:
        catalog["groups"] = groups
    return {"catalog": catalog}


def controls_catalog(controls: Iterable[ControlRow], info: DocumentInfo) -> JSON:
    """The internal controls as a catalog, one control each, with owner and status as props."""
    entries: list[JSON] = []
    for row in controls:
        control_token = control_id(row.code)
        control: JSON = {
            "id": control_token,
            "class": "internal-control",
            "title": _line(row.title, row.code),
            "props": [
                {"name": "label", "value": _line(row.code)},
                *_props(
                    ("domain", row.domain),
                    ("owner-team", row.owner_team),
                    ("implementation-status", row.status),
                    ("last-reviewed-on", row.last_reviewed_on),
                ),
            ],
        }
        if row.description.strip():
            control["parts"] = [
                {"id": f"{control_token}_smt", "name": "statement", "prose": row.description}
            ]
        entries.append(control)
    catalog: JSON = {
        "uuid": str(uuid.uuid4()),
        "metadata": info.metadata("Internal controls"),
    }
    if entries:
        catalog["controls"] = entries
    return {"catalog": catalog}


def catalog_ids(document: JSON) -> set[str]:
    """The ids of every control (at any depth) in a catalog document."""
    return {item["id"] for item in walk(document.get("catalog", {}), "controls")}


def walk(node: JSON, key: str) -> Iterator[JSON]:
    """Every object under node's groups and key (controls or parts), depth first."""
    for group in node.get("groups", []):
        yield from walk(group, key)
    for item in node.get(key, []):
        yield item
        yield from walk(item, key)


# -- the mapping-collection ------------------------------------------------------------------


def map_entry(row: MappingRow) -> JSON:
    """One map: "obligation RELATIONSHIP control", with our fields as namespaced props."""
    pair = f"{row.instrument}/{row.obligation_key}->{row.control_code}"
    entry: JSON = {
        "uuid": str(uuid.uuid5(UUID_NAMESPACE, pair)),
        "matching-rationale": row.rationale,
        "relationship": row.relationship,
        "sources": [
            {"type": "control", "id-ref": obligation_id(row.instrument, row.obligation_key)}
        ],
        "targets": [{"type": "control", "id-ref": control_id(row.control_code)}],
        "props": _props(
            ("strength", row.strength),
            ("coverage", row.coverage),
            ("state", row.state),
            ("approved-by", row.approved_by),
            ("approved-at", _stamp(row.approved_at) if row.approved_at else None),
        ),
    }
    if row.note.strip():
        entry["remarks"] = row.note
    return entry


def mapping_frame(info: DocumentInfo, *, status: str, unmapped: list[str]) -> JSON:
    """The mapping-collection without its maps; write_mapping_collection streams them in."""
    mapping: JSON = {
        "uuid": str(uuid.uuid5(UUID_NAMESPACE, "law-obligations->internal-controls")),
        "source-resource": {"type": "catalog", "href": LAW_CATALOG},
        "target-resource": {"type": "catalog", "href": CONTROLS_CATALOG},
        "maps": [],
    }
    if unmapped:
        # OSCAL: draw no conclusion from what is not mapped, so the gaps are listed.
        mapping["source-gap-summary"] = {
            "uuid": str(uuid.uuid5(UUID_NAMESPACE, "source-gaps")),
            "unmapped-controls": [{"with-ids": unmapped}],
        }
    return {
        "mapping-collection": {
            "uuid": str(uuid.uuid4()),
            "metadata": info.metadata("Online-safety obligations mapped to internal controls"),
            "provenance": {
                "method": "human",
                "matching-rationale": "semantic",  # each map states its own
                "status": status,
                "mapping-description": (
                    "Obligations of online-safety law (source) mapped to the company's internal "
                    "controls (target). Read each map as: obligation RELATIONSHIP control."
                ),
            },
            "mappings": [mapping],
        }
    }


class MapChecker:
    """The app's own checks on each map, made while maps stream out (bounded memory).

    The relationship must be an OSCAL value; every id-ref must name a control of the catalog
    it points into; map uuids must be unique. Rows arrive ordered by obligation and control,
    so a repeated pair would be the previous one.
    """

    def __init__(self, source_ids: set[str], target_ids: set[str]) -> None:
        self.source_ids = source_ids
        self.target_ids = target_ids
        self._previous = ""
        self.checked = 0

    def check(self, entry: JSON) -> None:
        problems = _map_problems(entry, self.source_ids, self.target_ids)
        if entry["uuid"] == self._previous:
            problems.append(f"map {entry['uuid']} appears twice")
        if problems:
            raise OscalProblem("; ".join(problems))
        self._previous = entry["uuid"]
        self.checked += 1


def _map_problems(entry: JSON, source_ids: set[str], target_ids: set[str]) -> list[str]:
    problems = []
    if "ns" not in entry and entry.get("relationship") not in RELATIONSHIPS:
        problems.append(
            f"map {entry.get('uuid')}: relationship {entry.get('relationship')!r} is not one "
            f"of {', '.join(RELATIONSHIPS)}"
        )
    for side, known in (("sources", source_ids), ("targets", target_ids)):
        for item in entry.get(side, []):
            if item.get("id-ref") not in known:
                problems.append(
                    f"map {entry.get('uuid')}: {side} id-ref {item.get('id-ref')!r} names no "
                    f"{item.get('type')} in its catalog"
                )
    return problems


def write_mapping_collection(
    frame: JSON, maps: Iterable[JSON], stream: IO[str], checker: MapChecker
) -> int:
    """Write frame with maps streamed into its one mapping; return how many were written."""
    placeholder = f"maps-{uuid.uuid4()}"
    frame["mapping-collection"]["mappings"][0]["maps"] = placeholder
    head, tail = json.dumps(frame, indent=1, ensure_ascii=False).split(f'"{placeholder}"')
    stream.write(head + "[")
    count = 0
    for entry in maps:
        checker.check(entry)
        stream.write(("," if count else "") + "\n" + json.dumps(entry, ensure_ascii=False))
        count += 1
    if count == 0:
        raise OscalProblem("a mapping-collection needs at least one map")
    stream.write("\n]" + tail)
    return count


# -- whole-document checks: imports, tests ----------------------------------------------------


def id_problems(document: JSON) -> list[str]:
    """Ids that appear twice in one document (groups, controls, parts and params share one
    space)."""
    seen: set[str] = set()
    problems = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            identifier = node.get("id")
            if isinstance(identifier, str):
                if identifier in seen:
                    problems.append(f"id {identifier!r} is used more than once")
                seen.add(identifier)
            for key, value in node.items():
                if key != "metadata":
                    visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return problems


def mapping_problems(mapping: JSON, source: JSON, target: JSON) -> list[str]:
    """The app's rules for a mapping-collection, its id-refs resolved against its catalogs."""
    source_ids, target_ids = catalog_ids(source), catalog_ids(target)
    problems = id_problems(mapping)
    seen: set[str] = set()
    for item in mapping["mapping-collection"]["mappings"]:
        for entry in item["maps"]:
            problems += _map_problems(entry, source_ids, target_ids)
            if entry["uuid"] in seen:
                problems.append(f"map {entry['uuid']} appears twice")
            seen.add(entry["uuid"])
        for side, known in (("source", source_ids), ("target", target_ids)):
            gaps = item.get(f"{side}-gap-summary", {}).get("unmapped-controls", [])
            for selection in gaps:
                for identifier in selection.get("with-ids", []):
                    if identifier not in known:
                        problems.append(f"{side} gap id {identifier!r} is not in its catalog")
    return problems


def _regex_pattern(
    validator: Any, pattern: str, instance: Any, schema: JSON
) -> Iterator[ValidationError]:
    # NIST's token pattern uses \p{L} and \p{N}, which Python's re rejects; regex knows them.
    if isinstance(instance, str) and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


OscalValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator, {"pattern": _regex_pattern}
)


@lru_cache(maxsize=4)
def load_schema(path: Path) -> JSON:
    schema: JSON = json.loads(path.read_text(encoding="utf-8"))
    return schema


def schema_problems(document: JSON, schema: JSON, *, limit: int = 20) -> list[str]:
    """Where document breaks the JSON Schema, innermost causes first, at most limit of them."""
    validator = OscalValidator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    problems: list[str] = []
    for error in validator.iter_errors(document):
        for cause in _innermost(error):
            location = "/".join(str(part) for part in cause.absolute_path) or "(root)"
            problems.append(f"{location}: {cause.message[:200]}")
            if len(problems) >= limit:
                return problems
    return problems


def _innermost(error: ValidationError) -> list[ValidationError]:
    # A failed "anyOf" (OSCAL choices) holds the real reasons in its context.
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _innermost(child)]
