"""Decide whether an obligation binds a service profile, and say why in plain words. Pure.

The conditions are the catalogue's `applies_when` vocabulary (regulations/README.md); this
module reads them as data and never evaluates code. Every condition gives a three-valued check
(met, unmet, open); an unmet one means "does not apply", an open one "needs judgement".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from compliance.applicability.vocabulary import (
    CHILD_ACCESS,
    CHILD_CONDITIONS,
    CHILD_FACTS,
    FEATURE_FACTS,
    FEATURE_IMPLIES,
    KIND_IMPLIES,
    KIND_LABELS,
    SIZE_LABELS,
)

Outcome = Literal["applies", "needs-judgement", "does-not-apply"]
OUTCOMES: tuple[Outcome, ...] = ("applies", "needs-judgement", "does-not-apply")
OUTCOME_LABELS: dict[str, str] = {
    "applies": "applies",
    "needs-judgement": "needs judgement",
    "does-not-apply": "does not apply",
}
State = Literal["met", "unmet", "open"]

# Instruments that are not law (any longer) bind nobody, whatever their conditions say.
_NOT_LAW = {
    "proposed": "the instrument is only proposed, not law",
    "lapsed": "the bill lapsed and never became law",
    "repealed": "the instrument was repealed",
    "expired": "the instrument has expired",
}
_ACRONYM = re.compile(r"^[A-Z]{2,10}$")
_SMALL_WORDS = {"a", "an", "and", "for", "in", "of", "on", "the", "to"}


@dataclass(frozen=True)
class Territory:
    """The jurisdiction tree: each code's parent and name (US-CA is in US, FR is in EU)."""

    parents: Mapping[str, str | None]
    names: Mapping[str, str]

    def lineage(self, code: str) -> list[str]:
        """The code, its parent, its parent's parent, and so on."""
        found: list[str] = []
        current: str | None = code
        while current is not None and current not in found:  # bad data must not loop
            found.append(current)
            current = self.parents.get(current)
        return found

    def within(self, code: str, area: str) -> bool:
        return area in self.lineage(code)

    def place(self, code: str) -> str:
        """The jurisdiction in words: "the EU", "the UK", "Texas"."""
        special = {"EU": "the EU", "US": "the US", "GB": "the UK", "INT": "any country"}
        if code in special:
            return special[code]
        name = self.names.get(code, code)
        the = name.startswith(("United ", "Republic ")) or name == "Netherlands"
        return f"the {name}" if the else name


@dataclass(frozen=True)
class ProfileFacts:
    """What a service profile states, in the applicability vocabulary."""

    kinds: frozenset[str]
    jurisdictions: frozenset[str]
    users: Mapping[str, int]  # average monthly active users per jurisdiction code
    child_access: str
    minimum_age: int | None
    features: frozenset[str]
    company_size: str | None  # None: not stated
    answers: Mapping[str, bool] = field(default_factory=dict)  # judgement question -> answer

    def all_kinds(self) -> dict[str, str]:
        """Every kind the service is, each with the stated kind it follows from."""
        found: dict[str, str] = {}
        for kind in sorted(self.kinds):
            queue = [kind]
            while queue:
                current = queue.pop()
                if current not in found:
                    found[current] = kind
                    queue.extend(KIND_IMPLIES.get(current, ()))
        if self.kinds:
            found.setdefault("online-service", sorted(self.kinds)[0])
        return found

    def all_features(self) -> set[str]:
        implied = {extra for f in self.features for extra in FEATURE_IMPLIES.get(f, ())}
        return set(self.features) | implied


@dataclass(frozen=True)
class Instrument:
    """What the rules need of an instrument."""

    slug: str
    label: str  # how explanations cite it: "DSA", "Louisiana Act 440"
    jurisdiction: str
    status: str
    applies_when: Mapping[str, Any]


@dataclass(frozen=True)
class Rule:
    """What the rules need of an obligation."""

    ref: str
    applies_when: Mapping[str, Any]
    applies_from: date | None = None


@dataclass(frozen=True)
class Check:
    """One condition read against the profile's facts."""

    condition: str  # scope, status, service, users, children, features, size, judgement
    state: State
    text: str
    question: str = ""  # on judgement checks: the question an answer settles


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    checks: tuple[Check, ...]
    citation: str
    starts_on: date | None = None  # a future date from which an obligation that applies bites

    @property
    def questions(self) -> list[str]:
        """The judgement questions still to answer."""
        return [c.question for c in self.checks if c.state == "open" and c.question]

    @property
    def reasons(self) -> list[str]:
        """The plain-words facts that decide the outcome."""
        state = {"applies": "met", "needs-judgement": "open", "does-not-apply": "unmet"}
        texts = [c.text for c in _deciding(self.checks, state[self.outcome]) if c.text]
        return list(dict.fromkeys(texts))  # the instrument and the obligation may both say it

    @property
    def label(self) -> str:
        label = OUTCOME_LABELS[self.outcome]
        return f"{label} from {self.starts_on.isoformat()}" if self.starts_on else label

    @property
    def explanation(self) -> str:
        """E.g. "applies: online platform offered in the EU with 52,000,000 EU users ≥
        45,000,000 (DSA Art. 34)"."""
        if self.outcome == "applies":
            body = _sentence(self.checks)
        elif self.outcome == "does-not-apply":
            body = "; ".join(self.reasons)
        else:
            met = [c for c in self.checks if c.state == "met"]
            body = "; ".join(self.reasons) + " — " + _sentence(met)
        return f"{self.label}: {body} ({self.citation})"


def _deciding(checks: Iterable[Check], state: str) -> list[Check]:
    chosen = [c for c in checks if c.state == state]
    if state == "unmet":
        # Outside the instrument's territory or not law: nothing else is worth saying.
        basic = [c for c in chosen if c.condition in ("scope", "status")]
        if basic:
            return basic
        # An instrument-wide kind that does not fit makes the obligation's own kind moot.
        services = [c for c in chosen if c.condition == "service"]
        return [c for c in chosen if c.condition != "service" or c is services[0]]
    return chosen


def _sentence(checks: Iterable[Check]) -> str:
    """The met facts as one phrase: "<kind> <offered where> with <users>, <other facts>"."""
    checks = list({c.text: c for c in checks if c.text}.values())  # each fact said once
    services = [c.text for c in checks if c.condition == "service"]
    subject = services[-1] if services else "service"  # the obligation's own kind is last
    head = " ".join([subject, *(c.text for c in checks if c.condition == "scope")])
    users = [c.text for c in checks if c.condition == "users"]
    if users:
        head += " with " + " and ".join(users)
    skip = ("scope", "service", "users")
    return ", ".join([head, *(c.text for c in checks if c.condition not in skip)])


def citation_label(short_title: str, aliases: Iterable[str]) -> str:
    """How explanations name an instrument: its acronym (DSA), else its short title.

    An acronym counts only when it is in the short title or spells its initials, so a
    regulator's acronym among the aliases is not taken for the law's.
    """
    title = re.sub(r"\s*\([^)]*\)\s*$", "", short_title) or short_title
    words = re.findall(r"[A-Za-z][\w'’-]*", title)
    initials = "".join(w[0].upper() for w in words if w.lower() not in _SMALL_WORDS)
    for alias in aliases:
        if _ACRONYM.match(alias) and (alias in short_title or alias in initials):
            return alias
    return title


def _listed(words: list[str], conjunction: str = "or") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _a(phrase: str) -> str:
    # "a user-to-user service": a "u" sounding "you" takes "a".
    vowel = phrase[:1].lower() in "aeiou" and not phrase.lower().startswith(("us", "uni"))
    return f"{'an' if vowel else 'a'} {phrase}"


def _count(number: int) -> str:
    return f"{number:,}"


# -- one check per condition ------------------------------------------------------------------


def check_scope(facts: ProfileFacts, instrument: Instrument, territory: Territory) -> Check:
    """An instrument binds only where the service is offered (US-CA is in US, FR in EU)."""
    home = instrument.jurisdiction
    offered = sorted(facts.jurisdictions)
    if home == "INT":
        where = _listed([territory.place(code) for code in offered], "and")
        return Check("scope", "met", f"offered in {where} (an international instrument)")
    for code in offered:
        if code == home:
            return Check("scope", "met", f"offered in {territory.place(code)}")
    for code in offered:
        if territory.within(code, home):
            inside = f"{territory.place(code)}, part of {territory.place(home)}"
            return Check("scope", "met", f"offered in {inside}")
    for code in offered:
        if territory.within(home, code):
            including = f"{territory.place(code)}, including {territory.place(home)}"
            return Check("scope", "met", f"offered across {including}")
    where = _listed([territory.place(code) for code in offered], "and")
    return Check("scope", "unmet", f"not offered in {territory.place(home)} (offered in {where})")


def enjoined_question(label: str) -> str:
    return (
        f"A court has blocked {label} (enjoined): must the service still comply, for example "
        "because the injunction protects only the parties to the case?"
    )


def check_status(facts: ProfileFacts, instrument: Instrument) -> Check:
    if instrument.status in _NOT_LAW:
        return Check("status", "unmet", _NOT_LAW[instrument.status])
    if instrument.status == "enjoined":
        return check_judgement(facts, enjoined_question(instrument.label), condition="status")
    return Check("status", "met", "")


def check_service(facts: ProfileFacts, wanted: list[str]) -> Check:
    kinds = facts.all_kinds()
    for kind in wanted:
        if kind in kinds:
            label = KIND_LABELS.get(kind, kind)
            stated = kinds[kind]
            if stated != kind:
                label += f" (as {_a(KIND_LABELS.get(stated, stated))})"
            return Check("service", "met", label)
    condition = _listed([KIND_LABELS.get(kind, kind) for kind in wanted])
    own = _listed([KIND_LABELS.get(kind, kind) for kind in sorted(facts.kinds)], "and")
    return Check("service", "unmet", f"not {_a(condition)} (it is {_a(own)})")


@dataclass(frozen=True)
class _Users:
    """What the profile's counts say about one jurisdiction: exact, or bounds."""

    at_least: int  # from the count given for it, or the counts for places inside it
    at_most: int | None  # from the count given for it, or for a place around it
    absent: bool = False  # not offered there at all
    inside: tuple[str, ...] = ()  # the places inside whose counts were added up
    around: str = ""  # the place around it whose count bounds it

    @property
    def exact(self) -> bool:
        return self.at_most == self.at_least


def _users_in(facts: ProfileFacts, code: str, territory: Territory) -> _Users:
    if code in facts.users:
        return _Users(facts.users[code], facts.users[code])
    around = [c for c in territory.lineage(code)[1:] if c in facts.users]
    bound = min(around, key=lambda c: facts.users[c]) if around else ""
    at_most = facts.users[bound] if bound else None
    given = [c for c in facts.users if c != code and territory.within(c, code)]
    # Only the outermost places given: a count for FR and one for a region of FR overlap.
    outer = sorted(c for c in given if not any(o != c and territory.within(c, o) for o in given))
    total = sum(facts.users[c] for c in outer)
    offered_inside = [j for j in facts.jurisdictions if territory.within(j, code)]
    offered_around = [j for j in facts.jurisdictions if j != code and territory.within(code, j)]
    if not offered_inside and not offered_around:
        return _Users(0, 0, absent=True)
    counted = all(any(territory.within(j, c) for c in outer) for j in offered_inside)
    if outer and counted and not offered_around:
        return _Users(total, total, inside=tuple(outer))  # every place it is offered, counted
    return _Users(total, at_most, inside=tuple(outer), around=bound)


def _users_words(found: _Users, who: str, use: str) -> str:
    """The count as the check uses it: "52,000,000 EU users", "at least ...", "at most ..."."""
    if found.absent:
        return f"no {who} users (not offered there)"
    if found.exact:
        parts = f" ({' + '.join(found.inside)})" if found.inside else ""
        return f"{_count(found.at_least)} {who} users{parts}"
    if use == "lower":
        return f"at least {_count(found.at_least)} {who} users ({' + '.join(found.inside)})"
    return f"at most {_count(found.at_most or 0)} {who} users (all of {found.around})"


def check_users(
    facts: ProfileFacts, code: str, threshold: Mapping[str, int], territory: Territory
) -> Check:
    """A threshold on average monthly active users in one jurisdiction."""
    who = "UK" if code == "GB" else code
    found = _users_in(facts, code, territory)
    upper_below = found.at_most is not None and found.at_most < threshold.get(
        "at_least", threshold.get("below", 0)
    )
    if "at_least" in threshold:
        limit, sign = threshold["at_least"], "≥"
        met, unmet = found.at_least >= limit, upper_below
        use = "lower" if met else "upper"
    else:
        limit, sign = threshold["below"], "<"
        met, unmet = upper_below, found.at_least >= limit
        use = "upper" if met else "lower"
    if met:
        return Check("users", "met", f"{_users_words(found, who, use)} {sign} {_count(limit)}")
    if unmet:
        wrong = "fewer than" if sign == "≥" else "not fewer than"
        return Check("users", "unmet", f"{_users_words(found, who, use)}, {wrong} {_count(limit)}")
    known = f" (at least {_count(found.at_least)} from {' + '.join(found.inside)})"
    return Check(
        "users",
        "open",
        f"{who} monthly users not stated{known if found.inside else ''}; the condition is "
        f"{sign} {_count(limit)} {who} users",
    )


def check_children(facts: ProfileFacts, wanted: str | list[str]) -> Check:
    levels = [wanted] if isinstance(wanted, str) else list(wanted)
    have = CHILD_ACCESS.index(facts.child_access)
    fact = CHILD_FACTS[facts.child_access]
    if any(have >= CHILD_ACCESS.index(level) for level in levels if level in CHILD_ACCESS):
        return Check("children", "met", fact)
    if facts.minimum_age is not None:
        fact += f" (minimum age {facts.minimum_age})"
    # The levels nest, so a list means its weakest level: [directed, likely] is "likely".
    weakest = min((level for level in levels if level in CHILD_ACCESS), key=CHILD_ACCESS.index)
    condition = CHILD_CONDITIONS.get(weakest, weakest)
    return Check("children", "unmet", f"{fact}; it covers only {condition}")


def check_features(facts: ProfileFacts, wanted: list[str]) -> Check:
    have = facts.all_features()
    for feature in wanted:
        if feature in have:
            return Check("features", "met", FEATURE_FACTS.get(feature, (feature, ""))[0])
    lacks = [FEATURE_FACTS.get(feature, ("", f"lacks {feature}"))[1] for feature in wanted]
    return Check("features", "unmet", _listed(lacks, "and"))


def check_size(facts: ProfileFacts, exempt: list[str]) -> Check:
    exempt_words = _listed(
        [SIZE_LABELS.get(size, size).removesuffix(" enterprise") for size in exempt], "and"
    )
    rule = f"{exempt_words} enterprises are exempt"
    if facts.company_size is None:
        return Check("size", "open", f"company size not stated ({rule})")
    size = SIZE_LABELS.get(facts.company_size, facts.company_size)
    if facts.company_size in exempt:
        return Check("size", "unmet", f"exempt as {_a(size)} ({rule})")
    return Check("size", "met", f"{_a(size)}, not exempt")


def check_judgement(facts: ProfileFacts, question: str, *, condition: str = "judgement") -> Check:
    answer = facts.answers.get(question)
    if answer is None:
        return Check(condition, "open", question, question)
    if answer:
        return Check(condition, "met", f"answered yes to “{question}”", question)
    return Check(condition, "unmet", f"answered no to “{question}”", question)


def check_conditions(
    facts: ProfileFacts, conditions: Mapping[str, Any], territory: Territory
) -> list[Check]:
    """The checks of one applies_when mapping, in the vocabulary's order."""
    checks = []
    if conditions.get("service"):
        checks.append(check_service(facts, list(conditions["service"])))
    for code, threshold in sorted((conditions.get("users") or {}).items()):
        checks.append(check_users(facts, code, threshold, territory))
    if conditions.get("children"):
        checks.append(check_children(facts, conditions["children"]))
    if conditions.get("features"):
        checks.append(check_features(facts, list(conditions["features"])))
    if conditions.get("company_size_exempt"):
        checks.append(check_size(facts, list(conditions["company_size_exempt"])))
    if conditions.get("judgement"):
        checks.append(check_judgement(facts, str(conditions["judgement"])))
    return checks


def evaluate(
    facts: ProfileFacts,
    instrument: Instrument,
    rule: Rule,
    territory: Territory,
    *,
    today: date,
) -> Verdict:
    """Read the instrument's and the obligation's conditions together (AND) against facts."""
    checks = [
        check_scope(facts, instrument, territory),
        check_status(facts, instrument),
        *check_conditions(facts, instrument.applies_when, territory),
        *check_conditions(facts, rule.applies_when, territory),
    ]
    states = {check.state for check in checks}
    outcome: Outcome = (
        "does-not-apply"
        if "unmet" in states
        else "needs-judgement"
        if "open" in states
        else "applies"
    )
    starts_on = rule.applies_from
    pending = outcome == "applies" and starts_on is not None and starts_on > today
    return Verdict(
        outcome,
        tuple(checks),
        f"{instrument.label} {rule.ref}",
        starts_on if pending else None,
    )
