"""A profile read against the whole live catalogue: verdicts, counts, questions and changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from compliance.applicability.rules import (
    OUTCOME_LABELS,
    OUTCOMES,
    Instrument,
    Outcome,
    ProfileFacts,
    Rule,
    Territory,
    Verdict,
    citation_label,
    enjoined_question,
    evaluate,
)
from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
from compliance.extensions import db


@dataclass(frozen=True)
class ObligationVerdict:
    """One obligation of the catalogue and what it means for the profile."""

    obligation_id: int
    path: str  # <instrument slug>/<key>
    ref: str
    title: str
    duty: str
    instrument: str  # slug
    instrument_title: str  # short title
    jurisdiction: str
    applies_from: date | None
    no_control_reason: str
    verdict: Verdict

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome


@dataclass(frozen=True)
class Tally:
    applies: int = 0
    needs_judgement: int = 0
    does_not_apply: int = 0

    @property
    def total(self) -> int:
        return self.applies + self.needs_judgement + self.does_not_apply

    def of(self, outcome: str) -> int:
        return int(getattr(self, outcome.replace("-", "_")))


def tally(items: Iterable[ObligationVerdict]) -> Tally:
    counts = Counter(item.outcome for item in items)
    return Tally(counts["applies"], counts["needs-judgement"], counts["does-not-apply"])


@dataclass(frozen=True)
class Group:
    """The counts of one instrument or one jurisdiction."""

    key: str
    label: str
    tally: Tally


@dataclass(frozen=True)
class Question:
    """A judgement question the catalogue asks of this profile, and the obligations it settles."""

    text: str
    answer: bool | None
    obligations: tuple[ObligationVerdict, ...]


@dataclass(frozen=True)
class Evaluation:
    items: list[ObligationVerdict]

    def tally(self) -> Tally:
        return tally(self.items)

    def by_instrument(self) -> list[Group]:
        groups: dict[str, list[ObligationVerdict]] = {}
        for item in self.items:
            groups.setdefault(item.instrument, []).append(item)
        return [
            Group(
                slug, f"{members[0].jurisdiction} · {members[0].instrument_title}", tally(members)
            )
            for slug, members in groups.items()
        ]

    def by_jurisdiction(self, names: dict[str, str] | None = None) -> list[Group]:
        groups: dict[str, list[ObligationVerdict]] = {}
        for item in self.items:
            groups.setdefault(item.jurisdiction, []).append(item)
        names = names or {}
        return [
            Group(code, names.get(code, code), tally(members))
            for code, members in sorted(groups.items())
        ]

    def filtered(
        self, *, outcome: str = "", jurisdiction: str = "", instrument: str = ""
    ) -> list[ObligationVerdict]:
        return [
            item
            for item in self.items
            if (not outcome or item.outcome == outcome)
            and (not jurisdiction or item.jurisdiction == jurisdiction)
            and (not instrument or item.instrument == instrument)
        ]

    def ids(self, *outcomes: str) -> set[int]:
        return {item.obligation_id for item in self.items if item.outcome in outcomes}

    def questions(self) -> list[Question]:
        """The judgement questions that matter: those on obligations nothing else rules out."""
        found: dict[str, tuple[bool | None, list[ObligationVerdict]]] = {}
        for item in self.items:
            checks = item.verdict.checks
            if any(check.state == "unmet" and not check.question for check in checks):
                continue
            for check in checks:
                if check.question:
                    answer = None if check.state == "open" else check.state == "met"
                    found.setdefault(check.question, (answer, []))[1].append(item)
        ordered = sorted(found.items(), key=lambda pair: (pair[1][0] is not None, -len(pair[1][1])))
        return [Question(text, answer, tuple(items)) for text, (answer, items) in ordered]


@dataclass(frozen=True)
class Change:
    item: ObligationVerdict  # as it is after the change
    before: Outcome


@dataclass(frozen=True)
class Changes:
    """What a profile edit changed in the evaluation, obligation by obligation."""

    changes: list[Change] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def now(self, outcome: str) -> list[Change]:
        return [change for change in self.changes if change.item.outcome == outcome]

    def summary(self) -> list[str]:
        """E.g. ["12 obligations now apply", "3 now need judgement", "1 no longer applies"]."""
        lines = []
        for outcome in OUTCOMES:
            moved = self.now(outcome)
            if not moved:
                continue
            n = len(moved)
            noun = "obligation" if n == 1 else "obligations"
            verb = {
                "applies": "now applies" if n == 1 else "now apply",
                "needs-judgement": "now needs judgement" if n == 1 else "now need judgement",
                "does-not-apply": "no longer applies" if n == 1 else "no longer apply",
            }[outcome]
            lines.append(f"{n} {noun} {verb}")
        return lines


def compare(before: Evaluation, after: Evaluation) -> Changes:
    """The obligations whose outcome differs between two evaluations of the same catalogue."""
    old = {item.obligation_id: item.outcome for item in before.items}
    return Changes(
        [
            Change(item, old[item.obligation_id])
            for item in after.items
            if item.obligation_id in old and old[item.obligation_id] != item.outcome
        ]
    )


class Catalogue:
    """The live obligations with their instruments, read once for one or more evaluations."""

    def __init__(
        self, territory: Territory, rules: list[tuple[ObligationVerdict, Instrument, Rule]]
    ) -> None:
        self.territory = territory
        self._rules = rules

    @classmethod
    def read(cls) -> Catalogue:
        rows = db.session.execute(
            select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.parent_id)
        ).all()
        codes = {row_id: code for row_id, code, _name, _parent in rows}
        parents = {code: codes.get(parent) if parent else None for _, code, _, parent in rows}
        names = {code: name for _id, code, name, _parent in rows}
        query = (
            select(Obligation)
            .join(Obligation.regulation)
            .join(Regulation.jurisdiction)
            .where(Obligation.retired_at.is_(None), Regulation.retired_at.is_(None))
            .order_by(Jurisdiction.code, Regulation.short_title, Obligation.position)
            .options(selectinload(Obligation.regulation).selectinload(Regulation.jurisdiction))
        )
        instruments: dict[int, Instrument] = {}
        rules = []
        for obligation in db.session.scalars(query):
            regulation = obligation.regulation
            if regulation.id not in instruments:
                instruments[regulation.id] = Instrument(
                    slug=regulation.slug,
                    label=citation_label(regulation.short_title, regulation.aliases or []),
                    jurisdiction=regulation.jurisdiction.code,
                    status=regulation.status,
                    applies_when=regulation.applies_when or {},
                )
            instrument = instruments[regulation.id]
            rule = Rule(obligation.ref, obligation.applies_when or {}, obligation.applies_from)
            blank = _placeholder(obligation, instrument)
            rules.append((blank, instrument, rule))
        return cls(Territory(parents, names), rules)

    def questions(self) -> set[str]:
        """Every judgement question the catalogue can ask."""
        found = set()
        for _item, instrument, rule in self._rules:
            for conditions in (instrument.applies_when, rule.applies_when):
                if conditions.get("judgement"):
                    found.add(str(conditions["judgement"]))
            if instrument.status == "enjoined":
                found.add(enjoined_question(instrument.label))
        return found

    def evaluate(self, facts: ProfileFacts, *, today: date) -> Evaluation:
        items = []
        for blank, instrument, rule in self._rules:
            verdict = evaluate(facts, instrument, rule, self.territory, today=today)
            items.append(replace(blank, verdict=verdict))
        return Evaluation(items)


_NO_VERDICT = Verdict("needs-judgement", (), "")


def _placeholder(obligation: Obligation, instrument: Instrument) -> ObligationVerdict:
    regulation = obligation.regulation
    return ObligationVerdict(
        obligation_id=obligation.id,
        path=f"{regulation.slug}/{obligation.key}",
        ref=obligation.ref,
        title=obligation.title,
        duty=obligation.duty,
        instrument=regulation.slug,
        instrument_title=regulation.short_title,
        jurisdiction=instrument.jurisdiction,
        applies_from=obligation.applies_from,
        no_control_reason=obligation.no_control_reason,
        verdict=_NO_VERDICT,
    )


OUTCOME_CHOICES = [(outcome, OUTCOME_LABELS[outcome]) for outcome in OUTCOMES]
