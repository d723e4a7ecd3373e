"""Search limited to a service profile (issue #8): only the obligations that concern it.

An obligation concerns a profile when it applies to it, or when it needs judgement (shown
with a badge, for someone to answer the profile's questions). Other kinds of document are
not limited: a profile says nothing about controls, instruments or regulatory changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from compliance import clock
from compliance.applicability import services as applicability
from compliance.catalogue.models import Obligation, Regulation
from compliance.extensions import db

APPLIES = "applies"
NEEDS_JUDGEMENT = "needs-judgement"
_EXTENSION = "compliance.search.profiles"
_KEPT = 16  # evaluations kept per process: paging through results must not redo them


@dataclass(frozen=True)
class ProfileScope:
    profile_id: int
    name: str
    applies: frozenset[int]  # obligation ids
    needs_judgement: frozenset[int]

    @property
    def document_ids(self) -> frozenset[str]:
        """The index ids of every obligation that concerns the profile."""
        return frozenset(f"obligation:{n}" for n in self.applies | self.needs_judgement)

    def outcome(self, obligation_id: int) -> str:
        if obligation_id in self.needs_judgement:
            return NEEDS_JUDGEMENT
        return APPLIES if obligation_id in self.applies else ""


def profile_scope(profile_id: int) -> ProfileScope:
    """What the profile limits search to; raises NotFound for an unknown profile.

    Evaluating a profile reads the whole catalogue, so the answer is kept until the profile,
    the catalogue or the date (effective dates) changes.
    """
    profile = applicability.get_profile(profile_id)
    key = (profile.id, profile.updated_at, clock.today(), _catalogue_version())
    kept: dict[tuple[Any, ...], ProfileScope] = current_app.extensions.setdefault(_EXTENSION, {})
    found = kept.get(key)
    if found is not None:
        return found
    applies = applicability.applicable_obligation_ids(profile.id)
    concerned = applicability.applicable_obligation_ids(profile.id, include_judgement=True)
    found = ProfileScope(
        profile.id, profile.name, frozenset(applies), frozenset(concerned - applies)
    )
    for old in [other for other in kept if other[0] == profile.id]:
        del kept[old]  # an earlier version of this profile or of the catalogue
    while len(kept) >= _KEPT:
        del kept[next(iter(kept))]
    kept[key] = found
    return found


def _catalogue_version() -> tuple[Any, ...]:
    # A load that changes an obligation or an instrument (its conditions, dates, retirement)
    # touches its updated_at; counts catch rows added.
    row = db.session.execute(
        select(
            func.max(Obligation.updated_at),
            func.count(Obligation.id),
            select(func.max(Regulation.updated_at)).scalar_subquery(),
            select(func.count(Regulation.id)).scalar_subquery(),
        )
    ).one()
    return tuple(row)
