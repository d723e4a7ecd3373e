"""Load the catalogue files into the database: one transaction, idempotent, nothing lost.

The law layer (topics, jurisdictions, regulators, instruments, obligations) follows the files;
what leaves the files is retired, never deleted. The company layer (controls, mappings) is only
seeded from the library: once a row is edited or deleted in the app, the app's version wins.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from compliance import signals
from compliance.audit.services import Actor, record
from compliance.catalogue.models import (
    Jurisdiction,
    LibrarySeed,
    Obligation,
    Regulation,
    Regulator,
    Topic,
)
from compliance.catalogue.validation import Catalogue, Problem, read_catalogue
from compliance.clock import utcnow
from compliance.database import begin_write
from compliance.errors import Invalid
from compliance.extensions import db
from compliance.feeds import services as feeds
from compliance.feeds.models import FeedSource
from compliance.mapping.models import Control, ControlMapping

LOADER = Actor.system("catalogue loader")


class CatalogueInvalid(Invalid):
    """The files have problems; nothing was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"The catalogue has {len(problems)} problem(s); nothing was loaded.",
            details=[str(p) for p in problems],
        )
        self.problems = problems


@dataclass
class CatalogueReport:
    """What a load changed, by kind of record and kind of change."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    kept_local: list[str] = field(default_factory=list)  # library updates skipped: edited here
    files: int = 0

    def note(self, kind: str, change: str) -> None:
        self.counts[(kind, change)] += 1

    @property
    def changed(self) -> bool:
        # A library update skipped for the app's edits ("kept local") writes nothing either.
        return any(change not in ("unchanged", "kept local") for _, change in self.counts)

    def total(self, kind: str, change: str | None = None) -> int:
        return sum(n for (k, c), n in self.counts.items() if k == kind and c == (change or c))

    def lines(self) -> list[str]:
        kinds = dict.fromkeys(k for k, _ in sorted(self.counts))
        result = []
        for kind in kinds:
            parts = [f"{n} {c}" for (k, c), n in sorted(self.counts.items()) if k == kind and n]
            result.append(f"{kind}: {', '.join(parts)}")
        return result


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def validate_catalogue(root: Path, on_file: Callable[[Path], None] | None = None) -> Catalogue:
    """Read and check the catalogue without touching the database."""
    return read_catalogue(root, on_file)


def load_catalogue(
    root: Path,
    *,
    actor: Actor = LOADER,
    on_file: Callable[[Path], None] | None = None,
) -> CatalogueReport:
    """Upsert the catalogue in one transaction, or raise CatalogueInvalid and change nothing."""
    catalogue = read_catalogue(root, on_file)
    if catalogue.problems:
        raise CatalogueInvalid(catalogue.problems)
    report = CatalogueReport(files=catalogue.files)
    begin_write()
    try:
        _Upsert(catalogue, report, actor).run()
    except Exception:
        db.session.rollback()
        raise
    if report.changed:
        db.session.commit()
        signals.catalogue_loaded.send(report)
    else:
        db.session.rollback()  # nothing to write, and no audit event for a no-op
    return report


class _Upsert:
    def __init__(self, catalogue: Catalogue, report: CatalogueReport, actor: Actor) -> None:
        self.catalogue = catalogue
        self.report = report
        self.actor = actor
        self.now = utcnow()
        self.topics: dict[str, Topic] = {}
        self.jurisdictions: dict[str, Jurisdiction] = {}
        self.regulators: dict[str, Regulator] = {}
        self.regulations: dict[str, Regulation] = {}
        self.controls: dict[str, Control] = {}

    def run(self) -> None:
        # Rows are built across several steps; flushing half-built ones would violate NOT NULL.
        with db.session.no_autoflush:
            self._steps()

    def _steps(self) -> None:
        self._topics()
        self._jurisdictions()
        self._regulators()
        self._regulations()
        self._controls()
        self._mappings()
        self._feeds()

    # -- the law layer ----------------------------------------------------------------------

    def _sync_fields(
        self, kind: str, key: str, row: Any, values: dict[str, Any], created: bool
    ) -> None:
        before = {name: getattr(row, name) for name in values} if not created else None
        changed = created or any(getattr(row, n) != v for n, v in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        if not changed:
            self.report.note(kind, "unchanged")
            return
        self.report.note(kind, "created" if created else "updated")
        record(
            self.actor,
            f"catalogue.{kind}.{'created' if created else 'updated'}",
            kind,
            key,
            summary=f"{kind} {key}",
            before=before,
            after=values,
        )

    def _topics(self) -> None:
        existing = {t.slug: t for t in db.session.scalars(select(Topic))}
        for slug, entry in self.catalogue.topics.items():
            row, created = existing.get(slug), slug not in existing
            if row is None:
                row = Topic(slug=slug)
                db.session.add(row)
            values = {"name": entry.data["name"], "description": entry.data["description"]}
            self._sync_fields("topic", slug, row, values, created)
            self.topics[slug] = row

    def _jurisdictions(self) -> None:
        existing = {j.code: j for j in db.session.scalars(select(Jurisdiction))}
        for code in self.catalogue.jurisdictions:
            self.jurisdictions[code] = existing.get(code) or Jurisdiction(code=code)
        for code, entry in self.catalogue.jurisdictions.items():
            row = self.jurisdictions[code]
            if code not in existing:
                db.session.add(row)
            parent = entry.data.get("parent")
            values = {
                "name": entry.data["name"],
                "level": entry.data["level"],
                "parent": self.jurisdictions[parent] if parent else None,
            }
            self._sync_fields("jurisdiction", code, row, values, code not in existing)
        db.session.flush()

    def _regulators(self) -> None:
        existing = {r.slug: r for r in db.session.scalars(select(Regulator))}
        for slug, entry in self.catalogue.regulators.items():
            row = existing.get(slug) or Regulator(slug=slug)
            if slug not in existing:
                db.session.add(row)
            values = {
                "name": entry.data["name"],
                "jurisdiction": self.jurisdictions[entry.data["jurisdiction"]],
                "url": entry.data.get("url", ""),
            }
            self._sync_fields("regulator", slug, row, values, slug not in existing)
            self.regulators[slug] = row
        db.session.flush()

    def _regulations(self) -> None:
        existing = {r.slug: r for r in db.session.scalars(select(Regulation))}
        for slug in self.catalogue.instruments:
            self.regulations[slug] = existing.get(slug) or Regulation(slug=slug)
        for slug, entry in self.catalogue.instruments.items():
            row = self.regulations[slug]
            self._regulation(row, entry.data, slug not in existing, entry)
            db.session.add(row)
        for slug, row in existing.items():
            if slug not in self.catalogue.instruments and row.retired_at is None:
                row.retired_at = self.now
                for obligation in row.obligations:
                    obligation.retired_at = obligation.retired_at or self.now
                self.report.note("regulation", "retired")
                record(
                    self.actor,
                    "catalogue.regulation.retired",
                    "regulation",
                    slug,
                    summary=f"{row.short_title} left the catalogue files; kept as retired",
                )
        db.session.flush()

    def _regulation(self, row: Regulation, data: dict[str, Any], created: bool, entry: Any) -> None:
        dates = data.get("dates", {})
        fields = {k: v for k, v in data.items() if k != "obligations"}
        content_hash = _digest(fields)
        changed = created or row.content_hash != content_hash or row.retired_at is not None
        if changed:
            before = None if created else {"content_hash": row.content_hash, "status": row.status}
            row.title = data["title"]
            row.short_title = data["short_title"]
            row.citation = data["citation"]
            row.jurisdiction = self.jurisdictions[data["jurisdiction"]]
            row.instrument_type = data["type"]
            row.status = data["status"]
            row.status_note = data.get("status_note", "")
            row.adopted_on = _date(dates.get("adopted"))
            row.in_force_on = _date(dates.get("in_force"))
            row.applies_from_on = _date(dates.get("applies_from"))
            row.regulator = self.regulators.get(data.get("regulator", ""))
            row.url = data["url"]
            row.summary = data["summary"]
            row.max_penalty = data.get("max_penalty", "")
            row.aliases = list(data.get("aliases", []))
            row.applies_when = dict(data.get("applies_when", {}))
            row.parent = self.regulations.get(data.get("implements", ""))
            row.topics = [self.topics[t] for t in data["topics"]]
            row.source_path = str(entry.document.path.relative_to(self.catalogue.root))
            change = "created" if created else ("restored" if row.retired_at else "updated")
            row.retired_at = None
            row.content_hash = content_hash
            self.report.note("regulation", change)
            record(
                self.actor,
                f"catalogue.regulation.{change}",
                "regulation",
                row.slug,
                summary=f"{data['short_title']} ({data['citation']})",
                before=before,
                after={"content_hash": content_hash, "status": data["status"]},
            )
        else:
            self.report.note("regulation", "unchanged")
        self._obligations(row, data["obligations"])

    def _obligations(self, regulation: Regulation, items: list[dict[str, Any]]) -> None:
        existing = {o.key: o for o in regulation.obligations} if regulation.id else {}
        changes: Counter[str] = Counter()
        changed_keys: list[str] = []
        for position, data in enumerate(items):
            row = existing.get(data["key"])
            content_hash = _digest({**data, "position": position})
            if row is not None and row.content_hash == content_hash and row.retired_at is None:
                changes["unchanged"] += 1
                continue
            change = "created" if row is None else ("restored" if row.retired_at else "updated")
            if row is None:
                row = Obligation(key=data["key"], regulation=regulation)
                db.session.add(row)
            row.ref = data["ref"]
            row.title = data["title"]
            row.summary = data["summary"]
            row.duty = data["duty"]
            row.applies_when = dict(data.get("applies_when", {}))
            row.threshold = data.get("threshold", "")
            row.effective_on = _date(data.get("effective_on"))
            row.source_url = data["source_url"]
            row.no_control_reason = data.get("no_control", "")
            row.position = position
            row.topics = [self.topics[t] for t in data["topics"]]
            row.content_hash = content_hash
            row.retired_at = None
            changes[change] += 1
            changed_keys.append(f"{change} {data['key']}")
        in_file = {data["key"] for data in items}
        for key, row in existing.items():
            if key not in in_file and row.retired_at is None:
                row.retired_at = self.now  # mappings may point at it: keep it, flagged
                changes["retired"] += 1
                changed_keys.append(f"retired {key}")
        for change, count in changes.items():
            self.report.counts[("obligation", change)] += count
        if changed_keys:
            record(
                self.actor,
                "catalogue.obligations.changed",
                "regulation",
                regulation.slug,
                summary=f"{regulation.short_title}: "
                + ", ".join(f"{n} {c}" for c, n in sorted(changes.items()) if c != "unchanged"),
                after={"changes": changed_keys},
            )

    def _feeds(self) -> None:
        # Feed sources are catalogue data too: loading them here puts them in the same
        # transaction and report as the rest (a catalogue_loaded receiver would only run when
        # something else changed, and could not roll back with the load).
        if not self.catalogue.feeds and not db.session.scalar(select(FeedSource.id).limit(1)):
            return
        feeds.sync_sources_from_catalogue(
            {url: entry.data for url, entry in self.catalogue.feeds.items()},
            regulators=self.regulators,
            jurisdictions=self.jurisdictions,
            note=self.report.note,
            actor=self.actor,
            now=self.now,
        )

    # -- the company layer, seeded from the library -------------------------------------------

    def _seeds(self, kind: str) -> dict[str, LibrarySeed]:
        return {s.key: s for s in db.session.scalars(select(LibrarySeed).filter_by(kind=kind))}

    def _controls(self) -> None:
        seeds = self._seeds("control")
        existing = {c.code: c for c in db.session.scalars(select(Control))}
        self.controls = dict(existing)
        for code, entry in self.catalogue.controls.items():
            values = _control_values(entry.data)
            library_hash = _digest(values)
            row, seed = existing.get(code), seeds.get(code)
            if seed is not None and seed.content_hash == library_hash:
                self.report.note("control", "unchanged")
                continue
            if row is None and seed is not None:
                self.report.note("control", "unchanged")  # deleted here: the app's choice wins
                continue
            if row is not None and (
                seed is None or _digest(_control_row(row)) != seed.content_hash
            ):
                self.report.note("control", "kept local")
                self.report.kept_local.append(f"control {code}")
                continue
            created = row is None
            if row is None:
                row = Control(code=code)
                db.session.add(row)
                self.controls[code] = row
            before = None if created else _control_row(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.retired_at = None
            self._seed(seeds, "control", code, library_hash)
            self.report.note("control", "created" if created else "updated")
            record(
                self.actor,
                f"control.{'created' if created else 'updated'}",
                "control",
                code,
                summary=f"{code} {values['title']} (from the control library)",
                before=before,
                after=values,
            )
        db.session.flush()

    def _mappings(self) -> None:
        seeds = self._seeds("mapping")
        obligations = {
            f"{slug}/{o.key}": o for slug, reg in self.regulations.items() for o in reg.obligations
        }
        existing = {
            (m.obligation.path, m.control.code): m
            for m in db.session.scalars(select(ControlMapping))
        }
        for (obligation_path, code), entry in self.catalogue.mappings.items():
            key = f"{obligation_path}->{code}"
            values = _mapping_values(entry.data)
            library_hash = _digest(values)
            row, seed = existing.get((obligation_path, code)), seeds.get(key)
            if seed is not None and (seed.content_hash == library_hash or row is None):
                self.report.note("mapping", "unchanged")
                continue
            if row is not None and (
                seed is None or _digest(_mapping_row(row)) != seed.content_hash
            ):
                self.report.note("mapping", "kept local")
                self.report.kept_local.append(f"mapping {key}")
                continue
            created = row is None
            if row is None:
                row = ControlMapping(
                    obligation=obligations[obligation_path], control=self.controls[code]
                )
                db.session.add(row)
            before = None if created else _mapping_row(row)
            for name, value in values.items():
                setattr(row, name, value)
            self._seed(seeds, "mapping", key, library_hash)
            self.report.note("mapping", "created" if created else "updated")
            record(
                self.actor,
                f"mapping.{'created' if created else 'updated'}",
                "mapping",
                key,
                summary=f"{code} ↔ {obligation_path} (proposed by the library)",
                before=before,
                after=values,
            )

    def _seed(self, seeds: dict[str, LibrarySeed], kind: str, key: str, content_hash: str) -> None:
        seed = seeds.get(key)
        if seed is None:
            seed = LibrarySeed(kind=kind, key=key, content_hash=content_hash)
            db.session.add(seed)
            seeds[key] = seed
        seed.content_hash = content_hash
        seed.seeded_at = self.now


CONTROL_LIBRARY_FIELDS = (
    "title",
    "description",
    "domain",
    "owner_team",
    "status",
    "review_interval_days",
)


def _control_values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"],
        "description": data["description"],
        "domain": data["domain"],
        "owner_team": data["owner_team"],
        "status": data["status"],
        "review_interval_days": data.get("review_interval_days", 365),
    }


def _control_row(row: Control) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CONTROL_LIBRARY_FIELDS}


def _mapping_values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "relationship_type": data["relationship"],
        "strength": data["strength"],
        "rationale_type": data["rationale"],
        "coverage": data["coverage"],
        "note": data.get("note", ""),
    }


def _mapping_row(row: ControlMapping) -> dict[str, Any]:
    return {
        "relationship_type": row.relationship_type,
        "strength": row.strength,
        "rationale_type": row.rationale_type,
        "coverage": row.coverage,
        "note": row.note,
    }
