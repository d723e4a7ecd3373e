"""Use cases for service profiles: checked, audited edits, and what applies to each profile.

Other domains call evaluate_profile and applicable_obligation_ids to limit what they show
(dashboard, gaps, search, exports) to a profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from compliance import clock, signals
from compliance.applicability.evaluation import Catalogue, Changes, Evaluation, Tally, compare
from compliance.applicability.inputs import ProfileInput, profile_problems, refuse
from compliance.applicability.models import ServiceProfile
from compliance.applicability.register import MappedControl, Register, RegisterRow
from compliance.applicability.rules import ProfileFacts, Territory
from compliance.audit.models import AuditEvent
from compliance.audit.services import Actor, record
from compliance.catalogue.models import Jurisdiction
from compliance.database import begin_write
from compliance.errors import Conflict, Invalid, NotFound
from compliance.extensions import db
from compliance.mapping.models import Control, ControlMapping

ENTITY = "service_profile"


@dataclass(frozen=True)
class ProfileUpdate:
    """A saved edit: the profile, the audit event that records it, and what it changed."""

    profile: ServiceProfile
    event_id: int | None  # None when nothing changed
    changes: Changes


# -- reads ------------------------------------------------------------------------------------


def profiles_query() -> Select[ServiceProfile]:
    """Every profile, by name (for paged lists)."""
    return select(ServiceProfile).order_by(ServiceProfile.name, ServiceProfile.id)


def list_profiles() -> list[ServiceProfile]:
    return list(db.session.scalars(profiles_query()))


def get_profile(profile_id: int) -> ServiceProfile:
    profile = db.session.get(ServiceProfile, profile_id)
    if profile is None:
        raise NotFound("No such service profile.")
    return profile


def find_profile(name_or_id: str) -> ServiceProfile:
    """A profile by its id or its name (any case), for the CLI."""
    text = name_or_id.strip()
    if text.isdigit():
        found = db.session.get(ServiceProfile, int(text))
        if found is not None:
            return found
    profile = db.session.scalar(
        select(ServiceProfile).where(func.lower(ServiceProfile.name) == text.lower())
    )
    if profile is None:
        raise NotFound(f"No service profile '{text}'.")
    return profile


def territory() -> Territory:
    return Catalogue.read().territory


def jurisdiction_choices() -> list[tuple[str, str]]:
    """(code, "code · name") of every jurisdiction in the catalogue, by code."""
    rows = db.session.execute(select(Jurisdiction.code, Jurisdiction.name).order_by("code"))
    return [(code, f"{code} · {name}") for code, name in rows]


def evaluate_profile(profile_id: int) -> Evaluation:
    """Every live obligation as applies, does not apply or needs judgement, with reasons."""
    profile = get_profile(profile_id)
    return Catalogue.read().evaluate(profile.facts(), today=clock.today())


def profile_tallies() -> dict[int, Tally]:
    """How many obligations apply, need judgement and do not apply, per profile id."""
    catalogue, today = Catalogue.read(), clock.today()
    return {
        profile.id: catalogue.evaluate(profile.facts(), today=today).tally()
        for profile in list_profiles()
    }


def evaluate_facts(facts: ProfileFacts) -> Evaluation:
    """The evaluation of facts not (yet) saved as a profile."""
    return Catalogue.read().evaluate(facts, today=clock.today())


def applicable_obligation_ids(profile_id: int, *, include_judgement: bool = False) -> set[int]:
    """Ids of the live obligations that apply to the profile (and, if asked, need judgement).

    For other domains that limit what they show to a profile: dashboard, gaps, search, exports.
    """
    outcomes = ("applies", "needs-judgement") if include_judgement else ("applies",)
    return evaluate_profile(profile_id).ids(*outcomes)


def statement_of_applicability(profile_id: int) -> Register:
    """The register: every live obligation with its outcome, explanation and mapped controls."""
    profile = get_profile(profile_id)
    evaluation = Catalogue.read().evaluate(profile.facts(), today=clock.today())
    controls: dict[int, list[MappedControl]] = {}
    query = (
        select(ControlMapping.obligation_id, Control, ControlMapping.coverage, ControlMapping.state)
        .join(ControlMapping.control)
        .order_by(Control.code)
    )
    for obligation_id, control, coverage, state in db.session.execute(query):
        found = MappedControl(control.code, control.title, coverage, state)
        controls.setdefault(obligation_id, []).append(found)
    rows = [
        RegisterRow(item, tuple(controls.get(item.obligation_id, []))) for item in evaluation.items
    ]
    return Register(profile.id, profile.snapshot(), clock.utcnow(), evaluation.tally(), rows)


def profile_history(profile_id: int, *, limit: int = 20) -> list[AuditEvent]:
    """The profile's audit events, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.entity_type == ENTITY, AuditEvent.entity_id == str(profile_id))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def changes_of_event(profile_id: int, event_id: int) -> tuple[AuditEvent, Changes]:
    """What one recorded edit of the profile changes, read against today's catalogue."""
    event = db.session.get(AuditEvent, event_id)
    if event is None or event.entity_type != ENTITY or event.entity_id != str(profile_id):
        raise NotFound("No such change to this profile.")
    if not event.before or not event.after:
        return event, Changes()
    catalogue = Catalogue.read()
    today = clock.today()
    before = catalogue.evaluate(_facts_of_snapshot(event.before), today=today)
    after = catalogue.evaluate(_facts_of_snapshot(event.after), today=today)
    return event, compare(before, after)


def _facts_of_snapshot(snapshot: Mapping[str, Any]) -> ProfileFacts:
    return ProfileFacts(
        kinds=frozenset(snapshot.get("kinds") or []),
        jurisdictions=frozenset(snapshot.get("jurisdictions") or []),
        users=dict(snapshot.get("monthly_users") or {}),
        child_access=str(snapshot.get("child_access") or "unlikely"),
        minimum_age=snapshot.get("minimum_age"),
        features=frozenset(snapshot.get("features") or []),
        company_size=snapshot.get("company_size"),
        answers=dict(snapshot.get("answers") or {}),
    )


# -- writes -----------------------------------------------------------------------------------


def _checked(
    data: ProfileInput, catalogue: Catalogue, kept_answers: Mapping[str, bool] | None = None
) -> ProfileInput:
    data = data.normalised()
    problems = profile_problems(
        data, catalogue.territory, questions=catalogue.questions(), kept_answers=kept_answers
    )
    refuse(problems)
    return data


def _refuse_taken_name(name: str, profile_id: int | None) -> None:
    query = select(ServiceProfile.id).where(func.lower(ServiceProfile.name) == name.lower())
    if profile_id is not None:
        query = query.where(ServiceProfile.id != profile_id)
    if db.session.scalar(query) is not None:
        db.session.rollback()
        raise Conflict(f"A service profile named '{name}' already exists.")


def _assign(profile: ServiceProfile, data: ProfileInput) -> None:
    profile.name = data.name
    profile.description = data.description
    # New lists and dicts: JSON columns notice assignment, not changes made in place.
    profile.kinds = list(data.kinds)
    profile.jurisdictions = list(data.jurisdictions)
    profile.monthly_users = dict(data.monthly_users)
    profile.child_access = data.child_access
    profile.minimum_age = data.minimum_age
    profile.features = list(data.features)
    profile.company_size = data.company_size
    profile.answers = dict(data.answers)


def create_profile(data: ProfileInput, *, actor: Actor) -> ServiceProfile:
    """Save a new profile after checking every fact; names are unique (any case)."""
    data = _checked(data, Catalogue.read())
    begin_write()
    _refuse_taken_name(data.name, None)
    profile = ServiceProfile()
    _assign(profile, data)
    db.session.add(profile)
    db.session.flush()
    record(
        actor, "profile.created", ENTITY, profile.id, summary=profile.name, after=profile.snapshot()
    )
    db.session.commit()
    signals.profile_changed.send(profile, action="created")
    return profile


def update_profile(profile_id: int, data: ProfileInput, *, actor: Actor) -> ProfileUpdate:
    """Replace a profile's facts; the result says which obligations changed outcome."""
    catalogue = Catalogue.read()
    current = get_profile(profile_id)
    data = _checked(data, catalogue, kept_answers=current.answers)
    old_facts = current.facts()
    begin_write()
    profile = db.session.get(ServiceProfile, profile_id)
    if profile is None:
        db.session.rollback()
        raise NotFound("No such service profile.")
    _refuse_taken_name(data.name, profile_id)
    before = profile.snapshot()
    _assign(profile, data)
    after = profile.snapshot()
    if after == before:
        db.session.rollback()
        return ProfileUpdate(profile, None, Changes())
    event = record(
        actor,
        "profile.updated",
        ENTITY,
        profile.id,
        summary=profile.name,
        before=before,
        after=after,
    )
    db.session.commit()
    signals.profile_changed.send(profile, action="updated")
    today = clock.today()
    changes = compare(
        catalogue.evaluate(old_facts, today=today),
        catalogue.evaluate(profile.facts(), today=today),
    )
    return ProfileUpdate(profile, event.id, changes)


def answer_questions(
    profile_id: int, answers: Mapping[str, bool | None], *, actor: Actor
) -> ProfileUpdate:
    """Record yes/no answers to judgement questions; None clears an answer."""
    if not answers:
        raise Invalid("Give at least one answer.")
    current = ProfileInput.of(get_profile(profile_id))
    return update_profile(profile_id, current.with_answers(answers), actor=actor)


def delete_profile(profile_id: int, *, actor: Actor) -> None:
    """Remove a profile; the audit trail keeps every fact it stated."""
    begin_write()
    profile = db.session.get(ServiceProfile, profile_id)
    if profile is None:
        db.session.rollback()
        raise NotFound("No such service profile.")
    record(
        actor,
        "profile.deleted",
        ENTITY,
        profile.id,
        summary=profile.name,
        before=profile.snapshot(),
    )
    db.session.delete(profile)
    db.session.commit()
    signals.profile_changed.send(profile, action="deleted")
