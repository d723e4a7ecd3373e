"""The service profile table: what a company says about one of its services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from compliance.applicability.rules import ProfileFacts
from compliance.applicability.vocabulary import CHILD_ACCESS
from compliance.catalogue.schema import COMPANY_SIZES
from compliance.clock import utcnow
from compliance.database import UTCDateTime, choice
from compliance.extensions import Model

MAX_MINIMUM_AGE = 21  # the highest age of majority anywhere; above it, a typo


class ServiceProfile(Model):
    """One service: its kinds, where it is offered, users, children, features, company size.

    The list and map columns hold vocabulary values (compliance/catalogue/schema.py); the
    services check them before every write.
    """

    __tablename__ = "service_profiles"
    __table_args__ = (
        CheckConstraint(
            f"minimum_age IS NULL OR (minimum_age >= 0 AND minimum_age <= {MAX_MINIMUM_AGE})",
            name="minimum_age",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes it is offered in
    monthly_users: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # code -> MAU
    child_access: Mapped[str] = mapped_column(choice("child_access", CHILD_ACCESS))
    minimum_age: Mapped[int | None] = mapped_column()
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    company_size: Mapped[str | None] = mapped_column(choice("company_size", COMPANY_SIZES))
    # Answers to the catalogue's judgement questions, keyed by the question's text: a reworded
    # question is a new question and is asked again.
    answers: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def facts(self) -> ProfileFacts:
        return ProfileFacts(
            kinds=frozenset(self.kinds),
            jurisdictions=frozenset(self.jurisdictions),
            users=dict(self.monthly_users),
            child_access=self.child_access,
            minimum_age=self.minimum_age,
            features=frozenset(self.features),
            company_size=self.company_size,
            answers=dict(self.answers),
        )

    def snapshot(self) -> dict[str, Any]:
        """Every stated fact, as the audit trail and the API record it."""
        return {
            "name": self.name,
            "description": self.description,
            "kinds": sorted(self.kinds),
            "jurisdictions": sorted(self.jurisdictions),
            "monthly_users": dict(sorted(self.monthly_users.items())),
            "child_access": self.child_access,
            "minimum_age": self.minimum_age,
            "features": sorted(self.features),
            "company_size": self.company_size,
            "answers": dict(sorted(self.answers.items())),
        }
