"""Alert subscriptions, the events that raise alerts, and the outbox that delivers them.

The outbox (design.md, "never loses an alert"): an AlertDelivery row ties one subscription to
one event and is written in the event's own transaction; an AlertMessage row is one e-mail to
send, with its Message-ID fixed when the row is created. Immediate subscriptions get their
message at once; digest subscriptions collect deliveries until the digest job bundles them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model

if TYPE_CHECKING:
    from compliance.auth.models import User

CADENCES = ("immediate", "daily", "weekly")
# personal: a user's own scope. team-list: a team's mailing list, set up by an admin.
# owner and admin: made by the app when it first routes a duty to someone (a manager owning
# affected controls, an admin hearing of failing feeds and escalations); a recipient can still
# unsubscribe from them, and the app then leaves them off.
SUBSCRIPTION_KINDS = ("personal", "team-list", "owner", "admin")
EVENT_KINDS = ("review-opened", "action-required", "deadline", "feed-failing", "escalation")
MESSAGE_STATES = ("queued", "sending", "sent", "failed", "cancelled")


class AlertSubscription(Model):
    __tablename__ = "alert_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(choice("subscription_kind", SUBSCRIPTION_KINDS))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(254), default="")  # a team list's address
    team: Mapped[str] = mapped_column(String(120), default="")  # whose controls count
    name: Mapped[str] = mapped_column(String(200), default="")
    cadence: Mapped[str] = mapped_column(choice("cadence", CADENCES), default="immediate")
    # The scope: each list left empty matches anything; filled ones must all match.
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes, e.g. "GB"
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)  # topic slugs
    regulations: Mapped[list[str]] = mapped_column(JSON, default=list)  # instrument slugs
    team_controls: Mapped[bool] = mapped_column(default=False)  # only what touches `team`
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_profiles.id", ondelete="SET NULL")
    )  # only obligations that apply to this service (issue #8)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every unsubscribe token; replaced when one is used, so a token works once.
    unsubscribe_nonce: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def recipient(self) -> str:
        if self.user is not None and not self.address:
            return self.user.email
        return self.address

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return {
            "personal": "My alerts",
            "team-list": f"Team list of {self.team or 'everyone'}",
            "owner": f"Controls owned by {self.team or 'my team'}",
            "admin": "Administrator notices",
        }[self.kind]


class AlertEvent(Model):
    """Something that raises alerts. key makes each happen once, however often it is seen."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # "review-opened:12"
    kind: Mapped[str] = mapped_column(choice("alert_event_kind", EVENT_KINDS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("change_reviews.id"), index=True)
    regulation_id: Mapped[int | None] = mapped_column(ForeignKey("regulations.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("feed_sources.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alert_events.id"))  # escalated
    event_on: Mapped[date | None] = mapped_column(Date)  # the date a deadline alert is about
    subject: Mapped[str] = mapped_column(String(300))  # one line, no control characters
    jurisdiction: Mapped[str] = mapped_column(String(20), default="")  # for digest grouping
    instrument: Mapped[str] = mapped_column(String(300), default="")  # for digest grouping
    # What the message says, frozen when the event happened: obligations, teams, links, text.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    acknowledged_by: Mapped[User | None] = relationship()

    @property
    def needs_acknowledgement(self) -> bool:
        return self.kind == "action-required"


class AlertMessage(Model):
    """One e-mail in the outbox: a single alert, or a digest of several."""

    __tablename__ = "alert_messages"
    # One digest per subscription and period, however often the digest job runs.
    __table_args__ = (UniqueConstraint("subscription_id", "digest_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("alert_subscriptions.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)  # fixed at creation
    digest_key: Mapped[str | None] = mapped_column(String(40))  # "daily:2026-12-02"
    address: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(
        choice("message_state", MESSAGE_STATES), default="queued", index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_code: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscription: Mapped[AlertSubscription] = relationship()
    deliveries: Mapped[list[AlertDelivery]] = relationship(
        back_populates="message", order_by="AlertDelivery.id"
    )


class AlertDelivery(Model):
    """One event for one subscription: written in the event's transaction, exactly once."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("alert_subscriptions.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"), index=True)
    # Empty until the message carrying it exists: at once for immediate subscriptions, at the
    # next digest for the others.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("alert_messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscription: Mapped[AlertSubscription] = relationship()
    event: Mapped[AlertEvent] = relationship()
    message: Mapped[AlertMessage | None] = relationship(back_populates="deliveries")


class AlertCalendar(Model):
    """A user's calendar feed: its token is signed, and this nonce lets the user revoke it."""

    __tablename__ = "alert_calendars"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
