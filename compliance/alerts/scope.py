"""What an event touches (instruments, places, topics, obligations, teams), and who it reaches."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from compliance.alerts.models import AlertSubscription
from compliance.applicability import services as applicability
from compliance.auth.models import User
from compliance.catalogue.models import Jurisdiction, Obligation, Regulation
from compliance.extensions import db
from compliance.mapping.models import ControlMapping

# ISO 3166 codes are the catalogue's; people read the United Kingdom as "UK" (ISO 3166-1
# reserves UK for it exceptionally), so subject lines say so.
_DISPLAY_CODES = {"GB": "UK"}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def display_code(code: str) -> str:
    return _DISPLAY_CODES.get(code, code)


def one_line(text: str, limit: int = 160) -> str:
    """Text made safe for a header: no line breaks or control characters, bounded length.

    Feed titles reach subject lines; a CR or LF there would let a feed add headers.
    """
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL_CHARACTERS.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


@dataclass
class Scope:
    """Everything an event touches, for matching subscriptions against."""

    regulations: set[str] = field(default_factory=set)  # slugs
    jurisdictions: set[str] = field(default_factory=set)  # codes, with their ancestors
    topics: set[str] = field(default_factory=set)
    obligation_ids: set[int] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)  # owners of controls mapped to those

    def as_data(self) -> dict[str, list[str] | list[int]]:
        return {
            "regulations": sorted(self.regulations),
            "jurisdictions": sorted(self.jurisdictions),
            "topics": sorted(self.topics),
            "obligation_ids": sorted(self.obligation_ids),
            "teams": sorted(self.teams),
        }


def jurisdiction_chain(jurisdiction: Jurisdiction | None) -> list[str]:
    """The code and its ancestors: a subscription to "US" hears of Texas laws too."""
    codes: list[str] = []
    while jurisdiction is not None and jurisdiction.code not in codes:
        codes.append(jurisdiction.code)
        jurisdiction = jurisdiction.parent
    return codes


def scope_of(regulations: Iterable[Regulation], obligations: Iterable[Obligation]) -> Scope:
    scope = Scope()
    for regulation in regulations:
        scope.regulations.add(regulation.slug)
        scope.jurisdictions.update(jurisdiction_chain(regulation.jurisdiction))
        scope.topics.update(topic.slug for topic in regulation.topics)
    obligation_ids = [o.id for o in obligations]
    scope.obligation_ids.update(obligation_ids)
    if obligation_ids:
        query = (
            select(Obligation)
            .where(Obligation.id.in_(obligation_ids))
            .options(
                selectinload(Obligation.topics),
                selectinload(Obligation.mappings).selectinload(ControlMapping.control),
            )
        )
        for obligation in db.session.scalars(query):
            scope.topics.update(topic.slug for topic in obligation.topics)
            scope.teams.update(
                m.control.owner_team
                for m in obligation.mappings
                if m.control.owner_team and m.control.retired_at is None
            )
    return scope


class ProfileCache:
    """Applicable obligations per service profile, worked out once per event batch."""

    def __init__(self) -> None:
        self._ids: dict[int, set[int]] = {}

    def applicable(self, profile_id: int) -> set[int]:
        if profile_id not in self._ids:
            try:
                found = applicability.applicable_obligation_ids(profile_id, include_judgement=True)
            except Exception:  # a profile deleted meanwhile: the filter cannot narrow anything
                found = set()
            self._ids[profile_id] = found
        return self._ids[profile_id]


def subscription_matches(
    subscription: AlertSubscription, scope: Scope, profiles: ProfileCache
) -> bool:
    """Every scope list the subscription fills must meet the event's; empty ones match all."""
    if subscription.jurisdictions and not set(subscription.jurisdictions) & scope.jurisdictions:
        return False
    if subscription.topics and not set(subscription.topics) & scope.topics:
        return False
    if subscription.regulations and not set(subscription.regulations) & scope.regulations:
        return False
    if subscription.team_controls and subscription.team not in scope.teams:
        return False
    return subscription.profile_id is None or bool(
        profiles.applicable(subscription.profile_id) & scope.obligation_ids
    )


def scoped_subscriptions(scope: Scope) -> list[AlertSubscription]:
    """Active personal and team-list subscriptions whose scope the event falls in."""
    query = (
        select(AlertSubscription)
        .where(AlertSubscription.active.is_(True))
        .where(AlertSubscription.kind.in_(("personal", "team-list")))
        .order_by(AlertSubscription.id)
    )
    profiles = ProfileCache()
    return [s for s in db.session.scalars(query) if subscription_matches(s, scope, profiles)]


def owners_of(teams: Iterable[str]) -> list[User]:
    """The managers of the teams that own affected controls: the ones to act."""
    teams = sorted(set(teams))
    if not teams:
        return []
    query = (
        select(User)
        .where(User.active.is_(True), User.role == "manager", User.team.in_(teams))
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def admins() -> list[User]:
    query = select(User).where(User.active.is_(True), User.role == "admin").order_by(User.email)
    return list(db.session.scalars(query))
