"""The transactional outbox: events become delivery rows in their own transaction; a sender
delivers the messages that are due.

Exactly once, and what SMTP cannot promise (issue #6, "a crash between sending and committing"):

1. An event and its AlertDelivery rows are written in the transaction that makes the event
   happen (a review opening, a review reaching "action required", a feed source flagged). If
   that transaction rolls back, no alert exists; if it commits, every alert does. The unique
   (subscription, event) pair, and the event's unique key, make a replay a no-op.
2. Each AlertMessage is created with its Message-ID. The sender claims a message (queued →
   sending, attempts + 1) and commits that claim *before* talking to SMTP; it commits "sent"
   after the server's 250. Two senders never claim the same row.
3. If the process dies between the server's 250 and the "sent" commit, the row stays in
   "sending". After ALERTS_SENDING_TIMEOUT_SECONDS it is sent again, with the same Message-ID,
   Date and body. That is the one duplicate SMTP cannot rule out (the client cannot know that
   the server accepted a message whose reply it never read, RFC 5321 section 6.1 makes the
   server responsible from then on); mail systems and clients that collapse copies by
   Message-ID (RFC 5322 section 3.6.4) show it once. The window is one SMTP reply long; we
   prefer a rare identical resend to a lost alert. The file transport (no SMTP configured)
   closes even that window: it writes each Message-ID once.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from compliance import clock
from compliance.alerts import mailer, messages
from compliance.alerts.models import (
    AlertDelivery,
    AlertEvent,
    AlertMessage,
    AlertSubscription,
)
from compliance.auth.models import User
from compliance.database import begin_write
from compliance.errors import Invalid, NotFound
from compliance.extensions import db

log = logging.getLogger(__name__)


def new_message_id() -> str:
    """An RFC 5322 msg-id, unique and fixed for the life of the message."""
    domain = str(current_app.config["ALERTS_MESSAGE_ID_DOMAIN"])
    return f"<alert.{clock.utcnow():%Y%m%d%H%M%S}.{secrets.token_hex(10)}@{domain}>"


def _nonce() -> str:
    return secrets.token_hex(16)


# -- writing events ---------------------------------------------------------------------------


def event_exists(key: str) -> bool:
    return db.session.scalar(select(AlertEvent.id).filter_by(key=key)) is not None


def record_event(
    event: AlertEvent, subscriptions: Iterable[AlertSubscription]
) -> list[AlertDelivery]:
    """Add the event and one delivery per distinct recipient to the caller's transaction.

    Runs inside the caller's unit of work: flushes, never commits. An event whose key exists
    already adds nothing (a replayed poll, a job run twice).
    """
    if event_exists(event.key):
        return []
    db.session.add(event)
    db.session.flush()
    deliveries: list[AlertDelivery] = []
    seen: set[str] = set()
    # Duties (owner, admin) first: someone who must act hears of it at once, even if a digest
    # subscription of theirs matches too; one person never gets one event twice.
    ordered = sorted(subscriptions, key=lambda s: (s.kind not in ("owner", "admin"), s.id))
    for subscription in ordered:
        recipient = subscription.recipient.lower()
        if not recipient or recipient in seen or not subscription.active:
            continue
        if subscription.user is not None and not subscription.user.active:
            continue
        seen.add(recipient)
        delivery = AlertDelivery(subscription=subscription, event=event, created_at=clock.utcnow())
        if subscription.cadence == "immediate":
            delivery.message = AlertMessage(
                subscription=subscription,
                message_id=new_message_id(),
                address=subscription.recipient,
                state="queued",
                due_at=clock.utcnow(),
                created_at=clock.utcnow(),
            )
        db.session.add(delivery)
        deliveries.append(delivery)
    db.session.flush()
    return deliveries


def duty_subscription(user: User, kind: str, *, team: str = "") -> AlertSubscription:
    """The owner or admin subscription the app routes duties through, made on first use.

    An unsubscribed one is returned as it is (inactive), so the app respects the choice.
    """
    found = db.session.scalar(
        select(AlertSubscription)
        .filter_by(user_id=user.id, kind=kind)
        .order_by(AlertSubscription.id)
    )
    if found is None:
        found = AlertSubscription(
            kind=kind,
            user=user,
            team=team or user.team,
            cadence="immediate",
            unsubscribe_nonce=_nonce(),
            team_controls=kind == "owner",
        )
        db.session.add(found)
        db.session.flush()
    return found


# -- digests ----------------------------------------------------------------------------------


def period_key(cadence: str, now: datetime) -> str:
    if cadence == "weekly":
        year, week, _ = now.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return f"daily:{now:%Y-%m-%d}"


@dataclass
class DigestReport:
    cadence: str
    messages: int = 0
    items: int = 0
    dropped: int = 0  # pending items of subscriptions that ended or whose user left


def bundle_digests(cadence: str) -> DigestReport:
    """Give every subscription of this cadence one message holding its pending deliveries.

    Idempotent per period: a second run in the same day (or week) finds the digest made and
    only adds a new one if new items arrived since, under the next key.
    """
    report = DigestReport(cadence)
    now = clock.utcnow()
    begin_write()
    pending = db.session.scalars(
        select(AlertDelivery)
        .join(AlertDelivery.subscription)
        .where(AlertDelivery.message_id.is_(None), AlertSubscription.cadence == cadence)
        .order_by(AlertDelivery.subscription_id, AlertDelivery.id)
    ).all()
    by_subscription: dict[int, list[AlertDelivery]] = {}
    for delivery in pending:
        by_subscription.setdefault(delivery.subscription_id, []).append(delivery)
    for deliveries in by_subscription.values():
        subscription = deliveries[0].subscription
        user_gone = subscription.user is not None and not subscription.user.active
        if not subscription.active or user_gone or not subscription.recipient:
            report.dropped += len(deliveries)
            continue  # left unbundled: visible on the admin page, and bundled if re-enabled
        key = period_key(cadence, now)
        taken = db.session.scalar(
            select(AlertMessage.id).filter_by(subscription_id=subscription.id, digest_key=key)
        )
        if taken is not None:  # already sent this period: the rest go out under a later key
            key = f"{key}.{now:%H%M%S}"
        message = AlertMessage(
            subscription=subscription,
            message_id=new_message_id(),
            digest_key=key,
            address=subscription.recipient,
            state="queued",
            due_at=now,
            created_at=now,
        )
        db.session.add(message)
        for delivery in deliveries:
            delivery.message = message
        report.messages += 1
        report.items += len(deliveries)
    db.session.commit()
    return report


# -- sending ----------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    recovered: int = 0  # interrupted sends picked up again
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def _recover_interrupted(now: datetime) -> int:
    """Put back sends that died between claim and outcome (see the module docstring, 3)."""
    timeout = timedelta(seconds=int(current_app.config["ALERTS_SENDING_TIMEOUT_SECONDS"]))
    begin_write()
    result = db.session.execute(
        update(AlertMessage)
        .where(AlertMessage.state == "sending", AlertMessage.claimed_at <= now - timeout)
        .values(
            state="queued",
            due_at=now,
            last_error="The last send was interrupted before its outcome was stored; "
            "sending again with the same Message-ID.",
        )
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def _claim(now: datetime, exclude: set[int]) -> AlertMessage | None:
    """Take the next due message: queued → sending, committed before any SMTP traffic."""
    begin_write()
    query = (
        select(AlertMessage)
        .where(AlertMessage.state == "queued", AlertMessage.due_at <= now)
        .order_by(AlertMessage.due_at, AlertMessage.id)
        .limit(1)
    )
    if exclude:
        query = query.where(AlertMessage.id.not_in(exclude))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two senders take different rows
    message = db.session.scalar(query)
    if message is None:
        db.session.rollback()
        return None
    message.state = "sending"
    message.claimed_at = clock.utcnow()
    message.attempts += 1
    db.session.commit()
    return message


def _retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Capped exponential backoff with equal jitter: 1, 2, 4 … minutes up to the cap."""
    cap = float(current_app.config["ALERTS_RETRY_MAX_MINUTES"])
    base = float(current_app.config["ALERTS_RETRY_FIRST_MINUTES"])
    ceiling = min(base * (2 ** min(attempts - 1, 20)), cap)
    return timedelta(minutes=ceiling / 2 + rng.random() * ceiling / 2)


def send_due(*, limit: int | None = None, rng: random.Random | None = None) -> SendReport:
    """Deliver the queued messages that are due, oldest first (`flask alerts send`)."""
    rng = rng or random.Random()  # noqa: S311  (jitter, not secrecy)
    report = SendReport()
    now = clock.utcnow()
    report.recovered = _recover_interrupted(now)
    limit = limit if limit is not None else int(current_app.config["ALERTS_SEND_BATCH"])
    # Opened before anything is claimed: a malformed SMTP_URL fails here, touching no row.
    # (The SMTP transport connects lazily, on the first message.)
    transport = mailer.open_transport(current_app.config, current_app.instance_path)
    tried: set[int] = set()
    try:
        while report.attempted + report.cancelled < limit:
            message = _claim(now, tried)
            if message is None:
                break
            tried.add(message.id)
            if not _still_wanted(message):
                message.state = "cancelled"
                message.last_error = "The subscription ended before this could be sent."
                db.session.commit()
                report.cancelled += 1
                continue
            try:
                email = messages.build(message)
            except mailer.DeliveryFailure as failure:
                _after_permanent(message, failure.reason, failure.code, report)
                continue
            except Exception as error:  # a template or data fault: retrying cannot help
                log.exception("alert %s could not be built", message.message_id)
                _after_permanent(message, f"could not build the message: {error}", None, report)
                continue
            try:
                transport.send(email)
            except mailer.TemporaryFailure as failure:
                _after_temporary(message, failure, rng, report)
            except mailer.PermanentFailure as failure:
                _after_permanent(message, failure.reason, failure.code, report)
            else:
                message.state = "sent"
                message.sent_at = clock.utcnow()
                message.last_error = ""
                message.last_code = None
                db.session.commit()
                report.sent += 1
    finally:
        transport.close()
        db.session.rollback()
    if report.attempted or report.recovered:
        log.info(
            "alerts: %d sent, %d to retry, %d failed, %d cancelled, %d recovered",
            report.sent,
            report.retrying,
            report.failed,
            report.cancelled,
            report.recovered,
        )
    return report


def _still_wanted(message: AlertMessage) -> bool:
    subscription = message.subscription
    if not subscription.active:
        return False
    return subscription.user is None or subscription.user.active


def _after_temporary(
    message: AlertMessage, failure: mailer.DeliveryFailure, rng: random.Random, report: SendReport
) -> None:
    max_attempts = int(current_app.config["ALERTS_MAX_ATTEMPTS"])
    if message.attempts >= max_attempts:
        reason = f"gave up after {message.attempts} attempts; last: {failure.reason}"
        _after_permanent(message, reason, failure.code, report)
        return
    message.state = "queued"
    message.due_at = clock.utcnow() + _retry_delay(message.attempts, rng)
    message.last_error = failure.reason[:1000]
    message.last_code = failure.code
    db.session.commit()
    report.retrying += 1
    report.errors.append(f"{message.address}: {failure.reason}")


def _after_permanent(
    message: AlertMessage, reason: str, code: int | None, report: SendReport
) -> None:
    message.state = "failed"
    message.last_error = reason[:1000]
    message.last_code = code
    db.session.commit()
    report.failed += 1
    report.errors.append(f"{message.address}: {reason}")
    log.error("alert %s to %s failed for good: %s", message.message_id, message.address, reason)


def requeue(message_id: int) -> AlertMessage:
    """An admin sends a failed message again (after fixing the address or the server)."""
    begin_write()
    message = db.session.get(AlertMessage, message_id)
    if message is None:
        db.session.rollback()
        raise NotFound("No such message.")
    if message.state not in ("failed", "cancelled"):
        db.session.rollback()
        raise Invalid(f"Only failed or cancelled messages are sent again; this is {message.state}.")
    message.state = "queued"
    message.due_at = clock.utcnow()
    message.attempts = 0
    db.session.commit()
    return message
