"""The subscription form (a user's own, or an admin's team list) and one-button forms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from compliance.alerts.models import CADENCES, AlertSubscription
from compliance.alerts.services import SubscriptionInput
from compliance.applicability.models import ServiceProfile
from compliance.catalogue.models import Jurisdiction, Regulation, Topic
from compliance.extensions import db

CADENCE_LABELS = {
    "immediate": "Immediately, one e-mail per alert",
    "daily": "Daily digest",
    "weekly": "Weekly digest (Mondays)",
}


def _optional_id(value: Any) -> int | None:
    return None if value in ("", None, "None") else int(value)


class SubscriptionForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    cadence = SelectField(
        "How often", choices=[SelectChoice(c, CADENCE_LABELS[c]) for c in CADENCES]
    )
    jurisdictions = SelectMultipleField("Jurisdictions", validate_choice=False)
    topics = SelectMultipleField("Topics", validate_choice=False)
    regulations = SelectMultipleField("Instruments", validate_choice=False)
    team_controls = BooleanField("Only changes touching controls my team owns")
    profile_id = SelectField(
        "Only obligations that apply to", coerce=_optional_id, validate_choice=False
    )
    active = BooleanField("Active", default=True)
    # Team lists only.
    address = StringField("List address", validators=[Optional(), Length(max=254)])
    team = StringField("Team", validators=[Optional(), Length(max=120)])

    def offer_choices(self) -> None:
        """Unknown values are reported by the service, with the value, not dropped here."""
        self.jurisdictions.choices = [
            SelectChoice(code, f"{code} — {name}")
            for code, name in db.session.execute(
                select(Jurisdiction.code, Jurisdiction.name).order_by(Jurisdiction.code)
            )
        ]
        self.topics.choices = [
            SelectChoice(slug, name)
            for slug, name in db.session.execute(
                select(Topic.slug, Topic.name).order_by(Topic.name)
            )
        ]
        self.regulations.choices = [
            SelectChoice(slug, title)
            for slug, title in db.session.execute(
                select(Regulation.slug, Regulation.short_title)
                .where(Regulation.retired_at.is_(None))
                .order_by(Regulation.short_title)
            )
        ]
        self.profile_id.choices = [SelectChoice("", "Any service")] + [
            SelectChoice(str(profile_id), name)
            for profile_id, name in db.session.execute(
                select(ServiceProfile.id, ServiceProfile.name).order_by(ServiceProfile.name)
            )
        ]

    def fill(self, subscription: AlertSubscription) -> None:
        self.name.data = subscription.name
        self.cadence.data = subscription.cadence
        self.jurisdictions.data = list(subscription.jurisdictions)
        self.topics.data = list(subscription.topics)
        self.regulations.data = list(subscription.regulations)
        self.team_controls.data = subscription.team_controls
        self.profile_id.data = subscription.profile_id
        self.active.data = subscription.active
        self.address.data = subscription.address
        self.team.data = subscription.team

    def to_input(self) -> SubscriptionInput:
        return SubscriptionInput(
            cadence=self.cadence.data or "immediate",
            name=(self.name.data or "").strip(),
            jurisdictions=tuple(self.jurisdictions.data or ()),
            topics=tuple(self.topics.data or ()),
            regulations=tuple(self.regulations.data or ()),
            team_controls=bool(self.team_controls.data),
            profile_id=self.profile_id.data,
            address=(self.address.data or "").strip(),
            team=(self.team.data or "").strip(),
        )


class ButtonForm(FlaskForm):
    """A POST with nothing but its CSRF token: acknowledge, delete, requeue, reset."""
