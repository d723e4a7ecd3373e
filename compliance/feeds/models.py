"""Feed tables: the sources polled, the entries they published and each entry's revisions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model

if TYPE_CHECKING:
    from compliance.catalogue.models import Jurisdiction, Regulator

ORIGINS = ("catalogue", "admin")
# What the last poll came to; "refused" is the outbound policy saying no (shown with reason).
POLL_STATUSES = ("never", "ok", "not-modified", "unchanged", "failed", "refused", "gone")


class FeedSource(Model):
    """A regulator's or legislature's feed, with everything the poller remembers about it."""

    __tablename__ = "feed_sources"
    __table_args__ = (
        CheckConstraint("interval_minutes > 0", name="interval"),
        CheckConstraint("consecutive_failures >= 0", name="failures"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))  # fetched; follows permanent redirects
    # The address in regulations/feeds/*.yaml: the catalogue's key for this row, never moved.
    catalogue_url: Mapped[str | None] = mapped_column(String(1000), unique=True)
    origin: Mapped[str] = mapped_column(choice("feed_origin", ORIGINS), default="admin")
    regulator_id: Mapped[int | None] = mapped_column(ForeignKey("regulators.id"))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    confirmed: Mapped[bool] = mapped_column(default=False)  # URL seen on the publisher's pages
    note: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    interval_minutes: Mapped[int] = mapped_column(default=60)
    # Conditional GET validators, stored exactly as received (RFC 9110 section 13.1).
    etag: Mapped[str] = mapped_column(String(500), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")  # of the last parsed body
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str] = mapped_column(
        choice("feed_poll_status", POLL_STATUSES), default="never"
    )
    last_http_status: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # failing too long: admins
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # left the catalogue files
    seed_hash: Mapped[str] = mapped_column(String(64), default="")  # catalogue values last applied
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    regulator: Mapped[Regulator | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return (urlsplit(self.url).hostname or "").lower()


class FeedEntry(Model):
    """One item a source published; its current text, plus every earlier one as revisions.

    identity_key is unique per source, so a poll killed half-way and run again, or two polls
    at once, can never store an entry twice.
    """

    __tablename__ = "feed_entries"
    __table_args__ = (
        UniqueConstraint("source_id", "identity_key"),
        Index("ix_feed_entries_source_link_key", "source_id", "link_key"),
        Index("ix_feed_entries_source_title_key", "source_id", "title_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("feed_sources.id"), index=True)
    identity_key: Mapped[str] = mapped_column(String(80))  # "guid:", "link:" or "hash:" + digest
    guid: Mapped[str] = mapped_column(String(500), default="")
    link: Mapped[str] = mapped_column(String(1000), default="")
    link_key: Mapped[str] = mapped_column(String(64), default="")  # canonical link's digest
    title_key: Mapped[str] = mapped_column(String(64), default="")  # title + date digest
    title: Mapped[str] = mapped_column(String(500), default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")  # sanitised (nh3)
    summary_text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)  # the number of the current revision
    relevance: Mapped[float] = mapped_column(Float, default=0.0)  # best match score, 0..1
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    source: Mapped[FeedSource] = relationship()
    revisions: Mapped[list[FeedEntryRevision]] = relationship(
        back_populates="entry", order_by="FeedEntryRevision.number"
    )

    @property
    def shown_at(self) -> datetime:
        return self.published_at or self.first_seen_at


class FeedEntryRevision(Model):
    """An entry's text as it was at one poll; revision 1 is the text first seen."""

    __tablename__ = "feed_entry_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("feed_entries.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(500), default="")
    link: Mapped[str] = mapped_column(String(1000), default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")
    summary_text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[FeedEntry] = relationship(back_populates="revisions")
