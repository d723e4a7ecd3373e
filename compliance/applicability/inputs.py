"""Read and check service-profile input from forms, JSON bodies and the CLI, naming each field."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compliance.applicability.models import MAX_MINIMUM_AGE, ServiceProfile
from compliance.applicability.rules import Territory
from compliance.applicability.vocabulary import CHILD_ACCESS
from compliance.catalogue.schema import COMPANY_SIZES, FEATURES, SERVICE_KINDS
from compliance.errors import Invalid

# More monthly users than people alive is a typo, not a service.
MAX_USERS = 8_300_000_000
MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_QUESTION = 1000
ADULT_AGE = 18  # "children" in the laws catalogued means people under 18

# The JSON fields of a profile and their types; bool is refused where an integer is due.
FIELDS: dict[str, str] = {
    "name": "a string",
    "description": "a string",
    "kinds": "a list of strings",
    "jurisdictions": "a list of strings",
    "monthly_users": "an object of jurisdiction code to whole number",
    "child_access": "a string",
    "minimum_age": "a whole number or null",
    "features": "a list of strings",
    "company_size": "a string or null",
    "answers": "an object of question to true, false or null",
}
REQUIRED = ("name", "kinds", "jurisdictions", "child_access")
_USERS_LINE = re.compile(r"^\s*([A-Za-z0-9-]+)\s*[:=]\s*([0-9][0-9,_ ]*)\s*$")


@dataclass(frozen=True)
class ProfileInput:
    """Everything a profile states, before it is checked and saved."""

    name: str
    kinds: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    child_access: str
    description: str = ""
    monthly_users: Mapping[str, int] = field(default_factory=dict)
    minimum_age: int | None = None
    features: tuple[str, ...] = ()
    company_size: str | None = None
    answers: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, profile: ServiceProfile) -> ProfileInput:
        return cls(
            name=profile.name,
            description=profile.description,
            kinds=tuple(profile.kinds),
            jurisdictions=tuple(profile.jurisdictions),
            monthly_users=dict(profile.monthly_users),
            child_access=profile.child_access,
            minimum_age=profile.minimum_age,
            features=tuple(profile.features),
            company_size=profile.company_size,
            answers=dict(profile.answers),
        )

    def normalised(self) -> ProfileInput:
        """Trimmed, de-duplicated and sorted, with codes in upper case."""
        return replace(
            self,
            name=self.name.strip(),
            description=self.description.strip(),
            kinds=_distinct(k.strip().lower() for k in self.kinds),
            jurisdictions=_distinct(j.strip().upper() for j in self.jurisdictions),
            monthly_users={k.strip().upper(): v for k, v in sorted(self.monthly_users.items())},
            child_access=self.child_access.strip().lower(),
            features=_distinct(f.strip().lower() for f in self.features),
            company_size=(self.company_size or "").strip().lower() or None,
            answers={q.strip(): a for q, a in sorted(self.answers.items())},
        )

    def with_answers(self, changes: Mapping[str, bool | None]) -> ProfileInput:
        """A copy with some answers set, and those given as None cleared."""
        answers = dict(self.answers)
        for question, answer in changes.items():
            if answer is None:
                answers.pop(question, None)
            else:
                answers[question] = answer
        return replace(self, answers=answers)


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({value for value in values if value}))


def refuse(problems: list[str], what: str = "The profile") -> None:
    if problems:
        raise Invalid(f"{what} is not valid: " + "; ".join(problems) + ".", details=problems)


# -- JSON (API bodies, CLI files) --------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_ok(name: str, value: Any) -> bool:
    if name in ("name", "description", "child_access"):
        return isinstance(value, str)
    if name in ("kinds", "jurisdictions", "features"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if name == "monthly_users":
        return isinstance(value, dict) and all(_is_int(v) for v in value.values())
    if name == "minimum_age":
        return value is None or _is_int(value)
    if name == "company_size":
        return value is None or isinstance(value, str)
    return isinstance(value, dict) and all(v is None or isinstance(v, bool) for v in value.values())


def from_json(body: Mapping[str, Any], current: ProfileInput | None = None) -> ProfileInput:
    """A profile from a JSON object; with current, the body changes only the fields it names.

    answers merge into the current ones (null clears one); every other field replaces.
    """
    problems = []
    for name, value in body.items():
        if name not in FIELDS:
            problems.append(f"{name}: unknown field; allowed: {', '.join(FIELDS)}")
        elif not _type_ok(name, value):
            problems.append(f"{name} must be {FIELDS[name]}, not {json.dumps(value)[:40]}")
    if current is None:
        problems += [f"{name} is required" for name in REQUIRED if name not in body]
    refuse(problems, "The request body")
    values = {k: v for k, v in body.items() if k != "answers"}
    for name in ("kinds", "jurisdictions", "features"):
        if name in values:
            values[name] = tuple(values[name])
    answers = body.get("answers") or {}
    if current is None:
        base = ProfileInput(**values)
        return base.with_answers(answers)
    return replace(current, **values).with_answers(answers)


def as_json(data: ProfileInput) -> dict[str, Any]:
    return {
        "name": data.name,
        "description": data.description,
        "kinds": list(data.kinds),
        "jurisdictions": list(data.jurisdictions),
        "monthly_users": dict(data.monthly_users),
        "child_access": data.child_access,
        "minimum_age": data.minimum_age,
        "features": list(data.features),
        "company_size": data.company_size,
        "answers": dict(data.answers),
    }


# -- "EU: 52,000,000" lines (the form and the CLI) ---------------------------------------------


def parse_users(lines: Iterable[str]) -> dict[str, int]:
    """Read one "CODE: number" (or CODE=number) per line; digits may be grouped by , _ or space."""
    found: dict[str, int] = {}
    problems = []
    for line in lines:
        if not line.strip():
            continue
        match = _USERS_LINE.match(line)
        if match is None:
            problems.append(
                f"'{line.strip()[:40]}' is not 'CODE: number' (e.g. 'EU: 52,000,000'); "
                "a count cannot be negative"
            )
            continue
        code = match[1].upper()
        if code in found:
            problems.append(f"{code} is given twice")
        found[code] = int(re.sub(r"[,_ ]", "", match[2]))
    refuse(problems, "The monthly users")
    return found


def users_lines(users: Mapping[str, int]) -> list[str]:
    return [f"{code}: {count:,}" for code, count in sorted(users.items())]


# -- the checks before a save ------------------------------------------------------------------


def profile_problems(
    data: ProfileInput,
    territory: Territory,
    *,
    questions: Collection[str],
    kept_answers: Mapping[str, bool] | None = None,
) -> list[str]:
    """Why the profile cannot be saved; empty when it can.

    questions are those the catalogue asks; an answer to any other is refused unless it was
    already stored (kept_answers) before the catalogue reworded the question.
    """
    problems = []
    if not data.name:
        problems.append("name is required")
    elif len(data.name) > MAX_NAME:
        problems.append(f"name must be at most {MAX_NAME} characters")
    if len(data.description) > MAX_DESCRIPTION:
        problems.append(f"description must be at most {MAX_DESCRIPTION} characters")
    problems += _vocabulary_problems(data)
    problems += _jurisdiction_problems(data, territory)
    problems += _users_problems(data, territory)
    problems += _children_problems(data)
    kept = kept_answers or {}
    for question in data.answers:
        if not question or len(question) > MAX_QUESTION:
            problems.append("answers: each question must be 1 to 1000 characters")
        elif question not in questions and question not in kept:
            problems.append(f"answers: the catalogue asks no question '{question[:80]}'")
    return problems


def _vocabulary_problems(data: ProfileInput) -> list[str]:
    problems = []
    if not data.kinds:
        problems.append("kinds: choose at least one kind of service")
    for name, values, allowed in (
        ("kinds", data.kinds, SERVICE_KINDS),
        ("features", data.features, FEATURES),
    ):
        unknown = [value for value in values if value not in allowed]
        if unknown:
            problems.append(
                f"{name}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}"
            )
    if data.child_access not in CHILD_ACCESS:
        problems.append(f"child_access must be one of: {', '.join(CHILD_ACCESS)}")
    if data.company_size is not None and data.company_size not in COMPANY_SIZES:
        problems.append(f"company_size must be one of: {', '.join(COMPANY_SIZES)} (or empty)")
    return problems


def _jurisdiction_problems(data: ProfileInput, territory: Territory) -> list[str]:
    if not data.jurisdictions:
        return ["jurisdictions: name at least one place where the service is offered"]
    unknown = [code for code in data.jurisdictions if code not in territory.names]
    if not unknown:
        return []
    return [
        f"jurisdictions: unknown code {', '.join(unknown)}; use codes from the catalogue's "
        "jurisdictions (e.g. EU, GB, US, US-TX), and EU for an EU member state not listed"
    ]


def _users_problems(data: ProfileInput, territory: Territory) -> list[str]:
    problems = []
    for code, count in data.monthly_users.items():
        if code not in territory.names:
            problems.append(f"monthly_users: unknown jurisdiction code {code}")
            continue
        if not 0 <= count <= MAX_USERS:
            problems.append(
                f"monthly_users: {code} has {count:,}; a count must be from 0 to "
                f"{MAX_USERS:,} (more than everyone alive)"
            )
        related = any(
            territory.within(code, offered) or territory.within(offered, code)
            for offered in data.jurisdictions
        )
        if not related:
            problems.append(
                f"monthly_users: {code} has users but the service is not offered there; "
                "add it to jurisdictions or remove the count"
            )
    for inner, inner_count in data.monthly_users.items():
        for outer in territory.lineage(inner)[1:]:
            if outer in data.monthly_users and inner_count > data.monthly_users[outer]:
                problems.append(
                    f"monthly_users: {inner} ({inner_count:,}) cannot exceed {outer} "
                    f"({data.monthly_users[outer]:,}), which contains it"
                )
    return problems


def _children_problems(data: ProfileInput) -> list[str]:
    age = data.minimum_age
    if age is None:
        return []
    if not 0 <= age <= MAX_MINIMUM_AGE:
        return [f"minimum_age must be from 0 to {MAX_MINIMUM_AGE}, not {age}"]
    if age >= ADULT_AGE and data.child_access in ("known", "directed"):
        fact = "it is aimed at children" if data.child_access == "directed" else "children use it"
        return [
            f"the profile contradicts itself: a minimum age of {age} means no children may use "
            f"the service, yet it says {fact}; lower the minimum age, or choose 'likely' if "
            "children may still get in"
        ]
    return []
