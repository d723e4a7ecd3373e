"""Forms for service profiles and the answers to judgement questions."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from compliance.applicability.inputs import MAX_DESCRIPTION, MAX_NAME, ProfileInput, parse_users
from compliance.applicability.models import MAX_MINIMUM_AGE
from compliance.applicability.vocabulary import (
    CHILD_ACCESS,
    CHILD_ACCESS_LABELS,
    FEATURE_LABELS,
    KIND_LABELS,
    SIZE_LABELS,
)
from compliance.catalogue.schema import COMPANY_SIZES, FEATURES, SERVICE_KINDS
from compliance.errors import Invalid

KIND_HELP = {
    "online-service": "any website, app or online service",
    "intermediary": "transmits, caches or stores others' information",
    "mere-conduit": "transmission or network access only",
    "caching": "temporary automatic storage to speed up transmission",
    "hosting": "stores information supplied by users",
    "online-platform": "hosting that also spreads users' content to the public",
    "marketplace": "consumers conclude contracts with traders on it",
    "search": "searches across sites or databases",
    "user-to-user": "users can share content with or reach other users",
    "social-media": "social networking",
    "video-sharing": "users share videos with the public",
    "messaging": "private or group messaging",
    "app-store": "distributes apps",
    "adult-content": "publishes pornography itself",
    "gaming": "online games with user interaction",
    "dating": "dating service",
    "ai-service": "chatbots and other AI services offered to users",
    "ads-intermediary": "ad network or ad tech between advertisers and publishers",
}


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UsersField(TextAreaField):
    """Monthly active users, one "CODE: number" per line; its data is a dict of code to count."""

    data: dict[str, int] | None
    raw_text: str | None = None

    def _value(self) -> str:
        if self.raw_text is not None:  # as typed, so a mistake can be corrected in place
            return self.raw_text
        return "\n".join(f"{code}: {count:,}" for code, count in sorted((self.data or {}).items()))

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_text = str(valuelist[0]) if valuelist else ""
        try:
            self.data = parse_users(self.raw_text.splitlines())
        except Invalid as error:
            self.data = {}
            raise ValueError("; ".join(error.details).capitalize() + ".") from error


class ProfileForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=MAX_NAME)],
        render_kw={"placeholder": "Main app"},
        description="What the company calls the service; unique.",
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=MAX_DESCRIPTION)],
        render_kw={"rows": 2},
        description="Optional: what the service is, for whoever reads the register.",
    )
    kinds = CheckboxesField(
        "Kinds of service",
        choices=[SelectChoice(kind, KIND_LABELS[kind]) for kind in SERVICE_KINDS],
        validators=[DataRequired("Choose at least one kind of service.")],
        description=(
            "Tick what it is; what follows is added for you (a marketplace is also an online "
            "platform, hosting service and intermediary)."
        ),
    )
    jurisdictions = SelectMultipleField(
        "Offered in",
        # Checked by the service, which names an unknown code instead of "not a valid choice".
        validate_choice=False,
        render_kw={"size": 10},
        description=(
            "Hold Ctrl or ⌘ to choose several. A state or province counts as its country "
            "(US-TX is in US); EU covers every member state."
        ),
    )
    monthly_users = UsersField(
        "Average monthly active users",
        render_kw={"rows": 4, "placeholder": "EU: 52,000,000\nGB: 7,500,000"},
        description=(
            "One 'CODE: number' per line, where the laws count users (EU, UK, Australia, US "
            "states …). A count left out makes thresholds there 'needs judgement'."
        ),
    )
    child_access = RadioField(
        "Children",
        choices=[SelectChoice(level, CHILD_ACCESS_LABELS[level]) for level in CHILD_ACCESS],
        default="likely",
    )
    minimum_age = IntegerField(
        "Minimum user age",
        validators=[Optional(), NumberRange(0, MAX_MINIMUM_AGE)],
        description="The youngest age the terms allow; leave empty if there is none.",
    )
    features = CheckboxesField(
        "Features", choices=[SelectChoice(f, FEATURE_LABELS[f]) for f in FEATURES]
    )
    company_size = SelectField(
        "Company size",
        choices=[SelectChoice("", "Not stated")]
        + [SelectChoice(s, SIZE_LABELS[s].capitalize()) for s in COMPANY_SIZES],
        description=(
            "By the EU definition (Recommendation 2003/361/EC): micro under 10 staff and "
            "€2m turnover, small under 50 and €10m. The DSA exempts micro and small ones "
            "from some duties."
        ),
    )

    def set_jurisdictions(self, choices: list[tuple[str, str]]) -> None:
        self.jurisdictions.choices = [SelectChoice(code, label) for code, label in choices]

    def validate_jurisdictions(self, field: SelectMultipleField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one place where the service is offered.")

    def to_input(self, answers: dict[str, bool] | None = None) -> ProfileInput:
        return ProfileInput(
            name=self.name.data or "",
            description=self.description.data or "",
            kinds=tuple(self.kinds.data or ()),
            jurisdictions=tuple(self.jurisdictions.data or ()),
            monthly_users=dict(self.monthly_users.data or {}),
            child_access=self.child_access.data or "",
            minimum_age=self.minimum_age.data,
            features=tuple(self.features.data or ()),
            company_size=self.company_size.data or None,
            answers=dict(answers or {}),
        )

    def fill(self, data: ProfileInput) -> None:
        """Show a saved profile's facts (on GET; a POST keeps what was typed)."""
        self.name.data = data.name
        self.description.data = data.description
        self.kinds.data = list(data.kinds)
        self.jurisdictions.data = list(data.jurisdictions)
        self.monthly_users.data = dict(data.monthly_users)
        self.child_access.data = data.child_access
        self.minimum_age.data = data.minimum_age
        self.features.data = list(data.features)
        self.company_size.data = data.company_size or ""


class AnswersForm(FlaskForm):
    """The judgement answers: fields are read by name (answer-<n>) from the request form."""


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token guards a one-button POST (delete)."""
