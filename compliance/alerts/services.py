"""Alerts: what raises them, who subscribes to what, acknowledgement, escalation, the calendar.

Events are written by the receivers in handlers.py, inside the transaction of the change that
raises them (compliance.signals, "sent inside the writing transaction"); the outbox delivers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask import current_app, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from compliance import clock
from compliance.alerts import calendar, mailer, outbox, tokens
from compliance.alerts.models import (
    CADENCES,
    AlertCalendar,
    AlertDelivery,
    AlertEvent,
    AlertMessage,
    AlertSubscription,
)
from compliance.alerts.scope import (
    ProfileCache,
    Scope,
    admins,
    display_code,
    jurisdiction_chain,
    one_line,
    owners_of,
    scope_of,
    scoped_subscriptions,
    subscription_matches,
)
from compliance.applicability.models import ServiceProfile
from compliance.audit.services import Actor, record
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.catalogue.models import Jurisdiction, Obligation, Regulation, Topic
from compliance.database import begin_write
from compliance.errors import Forbidden, Invalid, NotFound
from compliance.extensions import db
from compliance.feeds.models import FeedSource
from compliance.mapping.models import ControlMapping
from compliance.reviews import services as reviews
from compliance.reviews.models import ChangeReview

DEADLINE_THRESHOLDS = (1, 7, 30)  # days ahead (issue #6)
MAX_LISTED_OBLIGATIONS = 40  # in one message; the link shows the rest


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _obligation_rows(obligations: Sequence[Obligation]) -> list[dict[str, Any]]:
    return [
        {
            "id": o.id,
            "ref": o.ref,
            "title": o.title,
            "instrument": o.regulation.short_title if o.regulation else "",
        }
        for o in obligations[:MAX_LISTED_OBLIGATIONS]
    ]


# -- raising events (called inside the writing transaction) -----------------------------------


@dataclass(frozen=True)
class ReviewFacts:
    regulations: list[Regulation]
    obligations: list[Obligation]
    scope: Scope
    controls: list[dict[str, str]]


def _review_facts(review: ChangeReview) -> ReviewFacts:
    impacts = reviews.impact(review)
    regulations = [item.regulation for item in impacts]
    ids: list[int] = []
    controls: dict[str, dict[str, str]] = {}
    for item in impacts:
        relevant = [row for row in item.obligations if row.cited] or item.obligations
        ids.extend(row.id for row in relevant)
        for row in relevant:
            for control in row.controls:
                controls[control.code] = {
                    "code": control.code,
                    "title": control.title,
                    "team": control.owner_team,
                }
    obligations = list(
        db.session.scalars(
            select(Obligation)
            .where(Obligation.id.in_(ids))
            .options(selectinload(Obligation.regulation))
            .order_by(Obligation.regulation_id, Obligation.position)
        )
    )
    scope = scope_of(regulations, obligations)
    return ReviewFacts(regulations, obligations, scope, sorted(controls.values(), key=str))


def _place(regulation: Regulation | None) -> str:
    return display_code(regulation.jurisdiction.code) if regulation is not None else "—"


def _review_data(review: ChangeReview, facts: ReviewFacts, what: str) -> dict[str, Any]:
    entry = review.entry
    main = facts.regulations[0] if facts.regulations else None
    return {
        "what": what,
        "headline": one_line(entry.title, 300),
        "summary": one_line(entry.summary_text or "", 1200),
        "source_link": entry.link,
        "source": entry.source.name if entry.source else "",
        "regulator": main.regulator.name if main is not None and main.regulator else "",
        "instruments": [
            {"slug": r.slug, "title": r.short_title, "place": _place(r)} for r in facts.regulations
        ],
        "obligations": _obligation_rows(facts.obligations),
        "obligation_count": len(facts.obligations),
        "controls": facts.controls[:MAX_LISTED_OBLIGATIONS],
        "teams": sorted(facts.scope.teams),
        "decision_note": one_line(review.decision_note, 2000),
        "due_on": review.due_on.isoformat() if review.due_on else None,
        "target": {"endpoint": "reviews.detail", "values": {"review_id": review.id}},
        "scope": facts.scope.as_data(),
    }


def review_opened(review: ChangeReview) -> AlertEvent | None:
    """Alert everyone whose scope the review's instruments fall in."""
    key = f"review-opened:{review.id}"
    if outbox.event_exists(key):
        return None
    facts = _review_facts(review)
    main = facts.regulations[0] if facts.regulations else None
    regulator = main.regulator.name if main is not None and main.regulator else "Regulator"
    affected = _plural(len(facts.obligations), "obligation")
    subject = (
        f"[{_place(main)}] {regulator}: {one_line(review.entry.title, 110)} — {affected} affected"
    )
    event = AlertEvent(
        key=key,
        kind="review-opened",
        review_id=review.id,
        regulation_id=main.id if main is not None else None,
        subject=one_line(subject, 300),
        jurisdiction=main.jurisdiction.code if main is not None else "",
        instrument=main.short_title if main is not None else "",
        data=_review_data(review, facts, "New regulatory change to review"),
        created_at=clock.utcnow(),
    )
    outbox.record_event(event, scoped_subscriptions(facts.scope))
    return event


def review_action_required(review: ChangeReview) -> AlertEvent | None:
    """Alert the managers owning affected controls (they acknowledge), their team lists, and
    everyone whose scope it falls in."""
    earlier = db.session.scalar(
        select(func.count())
        .select_from(AlertEvent)
        .where(AlertEvent.review_id == review.id, AlertEvent.kind == "action-required")
    )
    key = f"action-required:{review.id}:{int(earlier or 0) + 1}"
    facts = _review_facts(review)
    main = facts.regulations[0] if facts.regulations else None
    teams = sorted(facts.scope.teams)
    owners = (
        f"{_plural(len(facts.controls), 'control')} of {', '.join(teams[:3])}"
        + (f" and {len(teams) - 3} more teams" if len(teams) > 3 else "")
        if teams
        else _plural(len(facts.obligations), "obligation")
    )
    subject = f"[{_place(main)}] Action required: {one_line(review.entry.title, 100)} — {owners}"
    event = AlertEvent(
        key=key,
        kind="action-required",
        review_id=review.id,
        regulation_id=main.id if main is not None else None,
        subject=one_line(subject, 300),
        jurisdiction=main.jurisdiction.code if main is not None else "",
        instrument=main.short_title if main is not None else "",
        data=_review_data(review, facts, "Action required"),
        created_at=clock.utcnow(),
    )
    recipients = [outbox.duty_subscription(user, "owner") for user in owners_of(teams)]
    team_lists = db.session.scalars(
        select(AlertSubscription).where(
            AlertSubscription.kind == "team-list",
            AlertSubscription.active.is_(True),
            AlertSubscription.team.in_(teams),
        )
    )
    recipients += list(team_lists)
    recipients += scoped_subscriptions(facts.scope)
    outbox.record_event(event, recipients)
    return event


def feed_source_failing(source: FeedSource) -> AlertEvent | None:
    """Tell the admins that a source has been failing for days (never silently disabled)."""
    since = clock.as_utc(source.failing_since) or clock.utcnow()
    flagged = clock.as_utc(source.flagged_at) or clock.utcnow()
    key = f"feed-failing:{source.id}:{flagged:%Y-%m-%dT%H:%M}"
    days = max((flagged - since).days, 1)
    event = AlertEvent(
        key=key,
        kind="feed-failing",
        source_id=source.id,
        subject=one_line(f"Feed source failing for {days} days: {source.name}", 300),
        jurisdiction=source.jurisdiction.code if source.jurisdiction else "",
        instrument="Feed sources",
        data={
            "what": "A feed source keeps failing",
            "headline": one_line(source.name, 300),
            "summary": one_line(
                f"Failing since {since:%Y-%m-%d %H:%M} UTC, {source.consecutive_failures} "
                f"failures in a row. Last error: {source.last_error or 'none recorded'}",
                1200,
            ),
            "source_link": source.url,
            "target": {"endpoint": "feeds.source", "values": {"source_id": source.id}},
        },
        created_at=clock.utcnow(),
    )
    outbox.record_event(event, [outbox.duty_subscription(user, "admin") for user in admins()])
    return event


# -- deadlines and escalations (scheduled) ----------------------------------------------------


def obligation_date(obligation: Obligation) -> date | None:
    """When the obligation bites: its own date, else its instrument's."""
    regulation = obligation.regulation
    return obligation.effective_on or regulation.applies_from_on or regulation.in_force_on


def _upcoming_obligations(today: date, horizon_days: int) -> list[tuple[Obligation, date]]:
    end = today + timedelta(days=horizon_days)
    query = (
        select(Obligation)
        .join(Obligation.regulation)
        .where(Obligation.retired_at.is_(None), Regulation.retired_at.is_(None))
        .where(
            or_(
                Obligation.effective_on.between(today, end),
                Regulation.applies_from_on.between(today, end),
                Regulation.in_force_on.between(today, end),
            )
        )
        .options(
            selectinload(Obligation.regulation).selectinload(Regulation.topics),
            selectinload(Obligation.regulation)
            .selectinload(Regulation.jurisdiction)
            .selectinload(Jurisdiction.parent),
            selectinload(Obligation.regulation).selectinload(Regulation.regulator),
            selectinload(Obligation.topics),
            selectinload(Obligation.mappings).selectinload(ControlMapping.control),
        )
        .order_by(Obligation.regulation_id, Obligation.position)
    )
    found = []
    for obligation in db.session.scalars(query):
        when = obligation_date(obligation)
        if when is not None and today < when <= end:
            found.append((obligation, when))
    return found


@dataclass
class DeadlineReport:
    events: int = 0
    deliveries: int = 0
    subjects: list[str] = field(default_factory=list)


def raise_deadlines(today: date | None = None) -> DeadlineReport:
    """Alert obligation dates 30, 7 and 1 days ahead, each threshold once.

    A date first seen inside a threshold (the job did not run, or the catalogue just learned
    it) raises only the nearest threshold: no "30 days" alert with five days left.
    """
    today = today or clock.today()
    report = DeadlineReport()
    groups: dict[tuple[int, date, int], list[Obligation]] = {}
    for obligation, when in _upcoming_obligations(today, max(DEADLINE_THRESHOLDS)):
        days = (when - today).days
        threshold = min(t for t in DEADLINE_THRESHOLDS if days <= t)
        groups.setdefault((obligation.regulation_id, when, threshold), []).append(obligation)
    begin_write()
    for (_, when, threshold), obligations in groups.items():
        regulation = obligations[0].regulation
        key = f"deadline:{regulation.slug}:{when.isoformat()}:{threshold}"
        if outbox.event_exists(key):
            continue
        days = (when - today).days
        count = _plural(len(obligations), "obligation")
        verb = "takes" if len(obligations) == 1 else "take"
        subject = (
            f"[{_place(regulation)}] {regulation.short_title}: {count} {verb} effect in "
            f"{_plural(days, 'day')} ({when:%d %b %Y})"
        )
        scope = scope_of([regulation], obligations)
        event = AlertEvent(
            key=key,
            kind="deadline",
            regulation_id=regulation.id,
            event_on=when,
            subject=one_line(subject, 300),
            jurisdiction=regulation.jurisdiction.code,
            instrument=regulation.short_title,
            data={
                "what": f"Coming into effect in {_plural(days, 'day')}",
                "headline": one_line(f"{regulation.title}: {count} from {when:%d %B %Y}", 300),
                "summary": one_line(regulation.status_note or regulation.summary or "", 1200),
                "source_link": regulation.url,
                "regulator": regulation.regulator.name if regulation.regulator else "",
                "instruments": [
                    {
                        "slug": regulation.slug,
                        "title": regulation.short_title,
                        "place": _place(regulation),
                    }
                ],
                "obligations": _obligation_rows(obligations),
                "obligation_count": len(obligations),
                "teams": sorted(scope.teams),
                "due_on": when.isoformat(),
                "target": {"endpoint": "catalogue.regulation", "values": {"slug": regulation.slug}},
                "scope": scope.as_data(),
            },
            created_at=clock.utcnow(),
        )
        deliveries = outbox.record_event(event, scoped_subscriptions(scope))
        report.events += 1
        report.deliveries += len(deliveries)
        report.subjects.append(event.subject)
    db.session.commit()
    return report


@dataclass
class EscalationReport:
    escalated: int = 0
    settled: int = 0  # reviews that moved on before anyone acknowledged: nothing to escalate


def escalate_unacknowledged() -> EscalationReport:
    """Tell the admins about "action required" alerts nobody acknowledged in time."""
    report = EscalationReport()
    days = int(current_app.config["ALERTS_ESCALATE_AFTER_DAYS"])
    cutoff = clock.utcnow() - timedelta(days=days)
    begin_write()
    stale = db.session.scalars(
        select(AlertEvent)
        .where(
            AlertEvent.kind == "action-required",
            AlertEvent.acknowledged_at.is_(None),
            AlertEvent.escalated_at.is_(None),
            AlertEvent.created_at <= cutoff,
        )
        .order_by(AlertEvent.id)
    ).all()
    for event in stale:
        review = db.session.get(ChangeReview, event.review_id) if event.review_id else None
        event.escalated_at = clock.utcnow()
        if review is not None and review.state != "action-required":
            report.settled += 1
            continue
        escalation = AlertEvent(
            key=f"escalation:{event.id}",
            kind="escalation",
            review_id=event.review_id,
            regulation_id=event.regulation_id,
            parent_id=event.id,
            subject=one_line(f"Unacknowledged for {_plural(days, 'day')}: {event.subject}", 300),
            jurisdiction=event.jurisdiction,
            instrument=event.instrument,
            data=dict(event.data)
            | {
                "what": f"Nobody acknowledged this within {_plural(days, 'day')}",
                "escalated_from": event.id,
                "ack_target": {"endpoint": "alerts.acknowledge", "values": {"event_id": event.id}},
            },
            created_at=clock.utcnow(),
        )
        outbox.record_event(
            escalation, [outbox.duty_subscription(user, "admin") for user in admins()]
        )
        record(
            Actor.system("alerts"),
            "alert.escalated",
            "alert_event",
            event.id,
            summary=f"unacknowledged after {days} days: {event.subject[:200]}",
        )
        report.escalated += 1
    db.session.commit()
    return report


# -- acknowledgement --------------------------------------------------------------------------


def get_event(event_id: int) -> AlertEvent:
    event = db.session.get(AlertEvent, event_id)
    if event is None:
        raise NotFound("No such alert.")
    return event


def received_by(event: AlertEvent, user: User) -> bool:
    return (
        db.session.scalar(
            select(AlertDelivery.id)
            .join(AlertDelivery.subscription)
            .where(AlertDelivery.event_id == event.id, AlertSubscription.user_id == user.id)
            .limit(1)
        )
        is not None
    )


def can_acknowledge(event: AlertEvent, user: User) -> bool:
    if not event.needs_acknowledgement:
        return False
    return role_can(user.role, Permission.ADMIN_ALERTS) or received_by(event, user)


def acknowledge(event_id: int, user: User, *, actor: Actor) -> AlertEvent:
    """The first acknowledgement is the one that counts; later ones change nothing."""
    begin_write()
    event = db.session.get(AlertEvent, event_id)
    if event is None:
        db.session.rollback()
        raise NotFound("No such alert.")
    if not event.needs_acknowledgement:
        db.session.rollback()
        raise Invalid("This alert does not ask for an acknowledgement.")
    if not can_acknowledge(event, user):
        db.session.rollback()
        raise Forbidden("Only the people this alert was sent to can acknowledge it.")
    if event.acknowledged_at is None:
        event.acknowledged_by_id = user.id
        event.acknowledged_at = clock.utcnow()
        record(
            actor,
            "alert.acknowledged",
            "alert_event",
            event.id,
            summary=event.subject[:200],
            after={"review": event.review_id},
        )
    db.session.commit()
    return event


def review_acknowledgements(review_id: int) -> list[AlertEvent]:
    """The review's "action required" alerts, with who acknowledged each (the review page)."""
    return list(
        db.session.scalars(
            select(AlertEvent)
            .where(AlertEvent.review_id == review_id, AlertEvent.kind == "action-required")
            .options(selectinload(AlertEvent.acknowledged_by))
            .order_by(AlertEvent.id)
        )
    )


# -- subscriptions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionInput:
    cadence: str = "immediate"
    name: str = ""
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    regulations: tuple[str, ...] = ()
    team_controls: bool = False
    profile_id: int | None = None
    address: str = ""  # team lists only
    team: str = ""  # team lists only (personal ones use the user's team)


def _unknown(kind: str, wanted: Iterable[str], known: Iterable[str]) -> list[str]:
    missing = sorted(set(wanted) - set(known))
    return [f"{kind}: unknown {value}" for value in missing]


def valid_address(address: str) -> str:
    address = address.strip()
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError):
        parsed = None
    if parsed is None or not parsed.username or "." not in parsed.domain or len(address) > 254:
        raise Invalid(
            "Give a valid e-mail address, such as trust-safety@example.org.",
            details=["address: not an e-mail address"],
        )
    return address.lower()


def _check(data: SubscriptionInput, *, team: str) -> list[str]:
    problems: list[str] = []
    if data.cadence not in CADENCES:
        problems.append(f"cadence: must be one of {', '.join(CADENCES)}")
    codes = db.session.scalars(
        select(Jurisdiction.code).where(Jurisdiction.code.in_(data.jurisdictions))
    )
    problems += _unknown("jurisdictions", data.jurisdictions, codes)
    slugs = db.session.scalars(select(Topic.slug).where(Topic.slug.in_(data.topics)))
    problems += _unknown("topics", data.topics, slugs)
    instruments = db.session.scalars(
        select(Regulation.slug).where(Regulation.slug.in_(data.regulations))
    )
    problems += _unknown("regulations", data.regulations, instruments)
    if data.profile_id is not None and db.session.get(ServiceProfile, data.profile_id) is None:
        problems.append(f"profile: unknown {data.profile_id}")
    if data.team_controls and not team:
        problems.append("team_controls: no team to take controls from (set the user's team)")
    if len(data.name) > 200:
        problems.append("name: at most 200 characters")
    return problems


def _assign(subscription: AlertSubscription, data: SubscriptionInput) -> None:
    subscription.cadence = data.cadence
    subscription.name = data.name.strip()
    subscription.jurisdictions = sorted(set(data.jurisdictions))
    subscription.topics = sorted(set(data.topics))
    subscription.regulations = sorted(set(data.regulations))
    subscription.team_controls = data.team_controls
    subscription.profile_id = data.profile_id


def _snapshot(subscription: AlertSubscription) -> dict[str, Any]:
    return {
        "kind": subscription.kind,
        "name": subscription.name,
        "cadence": subscription.cadence,
        "jurisdictions": subscription.jurisdictions,
        "topics": subscription.topics,
        "regulations": subscription.regulations,
        "team_controls": subscription.team_controls,
        "profile_id": subscription.profile_id,
        "address": subscription.address,
        "team": subscription.team,
        "active": subscription.active,
    }


def subscribe(user: User, data: SubscriptionInput, *, actor: Actor) -> AlertSubscription:
    """A user's own subscription."""
    if not role_can(user.role, Permission.RECEIVE_ALERTS):
        raise Forbidden("This role does not receive alerts.")
    problems = _check(data, team=user.team)
    if problems:
        raise Invalid("The subscription was not saved.", details=problems)
    subscription = AlertSubscription(kind="personal", user_id=user.id, team=user.team)
    return _create(subscription, data, summary="", actor=actor)


def subscribe_team_list(data: SubscriptionInput, *, actor: Actor) -> AlertSubscription:
    """An admin subscribes a team's mailing list."""
    address = valid_address(data.address)
    problems = _check(data, team=data.team.strip())
    if problems:
        raise Invalid("The team list was not saved.", details=problems)
    subscription = AlertSubscription(kind="team-list", address=address, team=data.team.strip())
    return _create(subscription, data, summary=f"team list {address}", actor=actor)


def _create(
    subscription: AlertSubscription, data: SubscriptionInput, *, summary: str, actor: Actor
) -> AlertSubscription:
    """Save a checked new subscription with its scope, and audit it, in one unit of work.

    summary: for the audit trail; empty means the subscription's label.
    """
    begin_write()
    subscription.unsubscribe_nonce = secrets.token_hex(16)
    subscription.created_by_id = actor.user_id
    _assign(subscription, data)
    db.session.add(subscription)
    db.session.flush()
    record(
        actor,
        "alert.subscribed",
        "alert_subscription",
        subscription.id,
        summary=summary or subscription.label,
        after=_snapshot(subscription),
    )
    db.session.commit()
    return subscription


def _editable(subscription_id: int, user: User) -> AlertSubscription:
    subscription = db.session.get(AlertSubscription, subscription_id)
    if subscription is None:
        raise NotFound("No such subscription.")
    if subscription.user_id != user.id and not role_can(user.role, Permission.ADMIN_ALERTS):
        raise NotFound("No such subscription.")  # not yours: as if it did not exist
    return subscription


def update_subscription(
    subscription_id: int, user: User, data: SubscriptionInput, *, active: bool, actor: Actor
) -> AlertSubscription:
    begin_write()
    try:
        subscription = _editable(subscription_id, user)
        team = subscription.team or (subscription.user.team if subscription.user else "")
        problems = _check(data, team=data.team.strip() or team)
        if subscription.kind == "team-list":
            subscription.address = valid_address(data.address or subscription.address)
            subscription.team = data.team.strip() or subscription.team
        if problems:
            raise Invalid("The subscription was not saved.", details=problems)
    except Exception:
        db.session.rollback()
        raise
    before = _snapshot(subscription)
    _assign(subscription, data)
    if subscription.kind in ("owner", "admin"):
        subscription.team_controls = subscription.kind == "owner"  # the duty stays what it is
    if active and not subscription.active:
        subscription.unsubscribed_at = None
    subscription.active = active
    record(
        actor,
        "alert.subscription.updated",
        "alert_subscription",
        subscription.id,
        summary=subscription.label,
        before=before,
        after=_snapshot(subscription),
    )
    db.session.commit()
    return subscription


def delete_subscription(subscription_id: int, user: User, *, actor: Actor) -> None:
    """Ends a subscription. Rows that delivered alerts stay (the trail), switched off."""
    begin_write()
    try:
        subscription = _editable(subscription_id, user)
    except NotFound:
        db.session.rollback()
        raise
    before = _snapshot(subscription)
    used = db.session.scalar(
        select(AlertDelivery.id).filter_by(subscription_id=subscription.id).limit(1)
    )
    if used is None:
        db.session.delete(subscription)
    else:
        subscription.active = False
        subscription.unsubscribed_at = clock.utcnow()
    record(
        actor,
        "alert.unsubscribed",
        "alert_subscription",
        subscription_id,
        summary=subscription.label,
        before=before,
    )
    db.session.commit()


def subscriptions_of(user: User) -> list[AlertSubscription]:
    return list(
        db.session.scalars(
            select(AlertSubscription)
            .where(AlertSubscription.user_id == user.id)
            .order_by(AlertSubscription.kind, AlertSubscription.id)
        )
    )


def team_lists() -> list[AlertSubscription]:
    return list(
        db.session.scalars(
            select(AlertSubscription)
            .where(AlertSubscription.kind == "team-list")
            .order_by(AlertSubscription.team, AlertSubscription.address)
        )
    )


def get_subscription(subscription_id: int, user: User) -> AlertSubscription:
    return _editable(subscription_id, user)


# -- unsubscribing by token (RFC 8058) --------------------------------------------------------


class TokenUsed(Exception):
    """A genuine token whose subscription has ended, or that was already used."""


def subscription_for_token(token: str) -> AlertSubscription:
    """The subscription a token names; BadToken if forged, TokenUsed if spent."""
    subscription_id, nonce = tokens.read_unsubscribe_token(token)
    subscription = db.session.get(AlertSubscription, subscription_id)
    if subscription is None or not secrets.compare_digest(subscription.unsubscribe_nonce, nonce):
        raise TokenUsed()
    if not subscription.active:
        raise TokenUsed()
    return subscription


def unsubscribe(token: str) -> AlertSubscription:
    """Ends the subscription a token names; the token stops working at once."""
    begin_write()
    try:
        subscription = subscription_for_token(token)
    except (tokens.BadToken, TokenUsed):
        db.session.rollback()
        raise
    subscription.active = False
    subscription.unsubscribed_at = clock.utcnow()
    subscription.unsubscribe_nonce = secrets.token_hex(16)
    record(
        Actor(subscription.user_id, subscription.recipient or "unsubscribe link"),
        "alert.unsubscribed",
        "alert_subscription",
        subscription.id,
        summary=f"{subscription.label}, by the link in an alert",
    )
    db.session.commit()
    return subscription


# -- the calendar feed ------------------------------------------------------------------------


def calendar_url_token(user: User) -> str:
    """The user's calendar token, made on first use."""
    row = db.session.get(AlertCalendar, user.id)
    if row is None:
        begin_write()
        row = db.session.get(AlertCalendar, user.id)
        if row is None:
            row = AlertCalendar(user_id=user.id, nonce=secrets.token_hex(16))
            db.session.add(row)
            record(Actor(user.id, user.email), "alert.calendar.created", "user", user.id)
        db.session.commit()
    return tokens.calendar_token(user.id, row.nonce)


def reset_calendar(user: User, *, actor: Actor) -> str:
    """A new token: the old calendar URL stops working."""
    begin_write()
    row = db.session.get(AlertCalendar, user.id)
    if row is None:
        row = AlertCalendar(user_id=user.id, nonce="")
        db.session.add(row)
    row.nonce = secrets.token_hex(16)
    record(actor, "alert.calendar.reset", "user", user.id, summary="calendar link replaced")
    db.session.commit()
    return tokens.calendar_token(user.id, row.nonce)


def user_for_calendar_token(token: str) -> User:
    user_id, nonce = tokens.read_calendar_token(token)
    row = db.session.get(AlertCalendar, user_id)
    user = db.session.get(User, user_id)
    if (
        row is None
        or user is None
        or not user.active
        or not secrets.compare_digest(row.nonce, nonce)
    ):
        raise TokenUsed()
    return user


def _scope_of_loaded(obligation: Obligation) -> Scope:
    regulation = obligation.regulation
    return Scope(
        regulations={regulation.slug},
        jurisdictions=set(jurisdiction_chain(regulation.jurisdiction)),
        topics={t.slug for t in regulation.topics} | {t.slug for t in obligation.topics},
        obligation_ids={obligation.id},
        teams={
            m.control.owner_team
            for m in obligation.mappings
            if m.control.owner_team and m.control.retired_at is None
        },
    )


def calendar_feed(user: User, *, horizon_days: int = 400) -> bytes:
    """Upcoming obligation dates within the user's subscriptions, as an iCalendar feed."""
    subscriptions = [s for s in subscriptions_of(user) if s.active]
    profiles = ProfileCache()
    items = []
    today = clock.today()
    for obligation, when in _upcoming_obligations(today - timedelta(days=1), horizon_days):
        scope = _scope_of_loaded(obligation)
        if not any(subscription_matches(s, scope, profiles) for s in subscriptions):
            continue
        regulation = obligation.regulation
        items.append(
            calendar.CalendarItem(
                uid=f"obligation-{obligation.id}-{when.isoformat()}@{current_app.config['ALERTS_MESSAGE_ID_DOMAIN']}",
                day=when,
                summary=one_line(
                    f"[{_place(regulation)}] {regulation.short_title} {obligation.ref}: "
                    f"{obligation.title} takes effect",
                    200,
                ),
                description=one_line(obligation.summary, 1000),
                url=url_for("catalogue.obligation", obligation_id=obligation.id, _external=True),
                categories=tuple(sorted(scope.topics)),
            )
        )
    return calendar.build_calendar(f"Compliance dates for {user.email}", items)


# -- what the pages show ----------------------------------------------------------------------


def alerts_for(user: User, *, limit: int = 50) -> list[tuple[AlertEvent, AlertDelivery]]:
    """The alerts delivered (or waiting for a digest) to the user's own subscriptions."""
    rows = db.session.execute(
        select(AlertEvent, AlertDelivery)
        .join(AlertDelivery, AlertDelivery.event_id == AlertEvent.id)
        .join(AlertDelivery.subscription)
        .where(AlertSubscription.user_id == user.id)
        .order_by(AlertEvent.id.desc())
        .limit(limit)
    ).all()
    return [(event, delivery) for event, delivery in rows]


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]
    waiting_for_digest: int
    problems: list[AlertMessage]  # failed, and queued ones that have failed before
    recent: list[AlertMessage]
    unacknowledged: list[AlertEvent]


def outbox_summary(*, limit: int = 50) -> OutboxSummary:
    counts = dict(
        db.session.execute(
            select(AlertMessage.state, func.count()).group_by(AlertMessage.state)
        ).all()
    )
    waiting = db.session.scalar(
        select(func.count()).select_from(AlertDelivery).where(AlertDelivery.message_id.is_(None))
    )
    problems = db.session.scalars(
        select(AlertMessage)
        .where(
            or_(
                AlertMessage.state == "failed",
                (AlertMessage.state.in_(("queued", "sending")) & (AlertMessage.attempts > 0)),
            )
        )
        .options(selectinload(AlertMessage.subscription))
        .order_by(AlertMessage.id.desc())
        .limit(limit)
    ).all()
    recent = db.session.scalars(
        select(AlertMessage).order_by(AlertMessage.id.desc()).limit(limit)
    ).all()
    unacknowledged = db.session.scalars(
        select(AlertEvent)
        .where(AlertEvent.kind == "action-required", AlertEvent.acknowledged_at.is_(None))
        .order_by(AlertEvent.id.desc())
        .limit(limit)
    ).all()
    return OutboxSummary(
        {str(k): int(v) for k, v in counts.items()},
        int(waiting or 0),
        list(problems),
        list(recent),
        list(unacknowledged),
    )


def message_events(message: AlertMessage) -> list[AlertEvent]:
    return [delivery.event for delivery in message.deliveries]


# -- the transport, for admins ----------------------------------------------------------------


def transport_description() -> str:
    """Where mail goes, in words, or what is wrong with the setting (no password ever)."""
    try:
        transport = mailer.open_transport(current_app.config, current_app.instance_path)
    except ValueError as error:
        return f"misconfigured: {error}"
    try:
        return transport.description
    finally:
        transport.close()


def send_test_message(user: User, *, actor: Actor) -> str:
    """Send one message straight through the transport, so an admin sees at once whether the
    mail set-up works; raises mailer.DeliveryFailure (or ValueError for a bad SMTP_URL)."""
    message = EmailMessage()
    message["From"] = Address("Compliance alerts", addr_spec=str(current_app.config["MAIL_FROM"]))
    message["To"] = Address(addr_spec=user.email)
    message["Subject"] = "Test message from the compliance alerts"
    message["Date"] = format_datetime(clock.utcnow())
    message["Message-ID"] = outbox.new_message_id()
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "This message shows that the compliance app can send alerts through "
        f"{transport_description()}.\n"
    )
    transport = mailer.open_transport(current_app.config, current_app.instance_path)
    try:
        transport.send(message)
    finally:
        transport.close()
    record(actor, "alert.test_message", "user", user.id, summary=f"sent to {user.email}")
    db.session.commit()
    return transport.description
