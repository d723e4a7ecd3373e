"""Change reviews: one per flagged feed entry, its matched instruments, and its history."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model

if TYPE_CHECKING:
    from compliance.auth.models import User
    from compliance.catalogue.models import Regulation
    from compliance.feeds.models import FeedEntry

STATES = ("new", "triaged", "assessing", "action-required", "no-action", "closed")
OPEN_STATES = ("new", "triaged", "assessing", "action-required")
# The workflow (issue #5): new → triaged → assessing → action required | no action → closed.
# A closed review can be reopened; a decision can be revisited while assessing.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "no-action"),
    "triaged": ("assessing", "no-action"),
    "assessing": ("action-required", "no-action", "triaged"),
    "action-required": ("closed", "assessing"),
    "no-action": ("closed", "assessing"),
    "closed": ("triaged",),
}
DECISION_STATES = ("action-required", "no-action")  # these need a decision note
EVENT_KINDS = ("opened", "moved", "assigned", "due", "note", "revised", "rematched")


class ChangeReview(Model):
    __tablename__ = "change_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("feed_entries.id"), unique=True)
    state: Mapped[str] = mapped_column(choice("review_state", STATES), default="new", index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)  # the best match's
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    promoted: Mapped[bool] = mapped_column(default=False)  # opened by a person, not the score
    seen_revision: Mapped[int] = mapped_column(default=1)  # the entry revision last assessed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[FeedEntry] = relationship()
    assignee: Mapped[User | None] = relationship()
    matches: Mapped[list[ReviewMatch]] = relationship(
        back_populates="review", order_by="desc(ReviewMatch.score)", cascade="all, delete-orphan"
    )
    events: Mapped[list[ReviewEvent]] = relationship(
        back_populates="review", order_by="ReviewEvent.id"
    )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def next_states(self) -> tuple[str, ...]:
        return TRANSITIONS[self.state]


class ReviewMatch(Model):
    """One instrument a review's entry concerns, with the score and the reasons it matched."""

    __tablename__ = "review_matches"
    __table_args__ = (UniqueConstraint("review_id", "regulation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("change_reviews.id"), index=True)
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    obligation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # provisions cited

    review: Mapped[ChangeReview] = relationship(back_populates="matches")
    regulation: Mapped[Regulation] = relationship()


class ReviewEvent(Model):
    """The review's own history, shown on its page; the audit trail records the same writes."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("change_reviews.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(choice("review_event_kind", EVENT_KINDS))
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    review: Mapped[ChangeReview] = relationship(back_populates="events")
