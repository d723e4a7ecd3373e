"""Forms for internal controls, control mappings and the one-button actions on them."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from compliance.catalogue.models import Obligation
from compliance.mapping import services
from compliance.mapping.models import (
    CONTROL_DOMAINS,
    CONTROL_STATUSES,
    COVERAGES,
    RATIONALE_TYPES,
    RELATIONSHIPS,
    Control,
)

# Plain-words readings of the NIST IR 8477 set-theory relationships, read as
# "the obligation is <relationship> the control".
RELATIONSHIP_HELP = {
    "equal-to": "the obligation and the control say the same thing, word for word",
    "equivalent-to": "different words, the same meaning and scope",
    "subset-of": "the control covers everything the obligation asks, and more",
    "superset-of": "the obligation asks for more than the control covers",
    "intersects-with": "they overlap, but each has parts the other lacks",
    "no-relationship": "checked and found unrelated (recorded so nobody checks again)",
}
RATIONALE_LABELS = {
    "syntactic": "Syntactic: the wording matches",
    "semantic": "Semantic: the meaning matches",
    "functional": "Functional: the control achieves what the obligation is for",
}


def _choices(values: tuple[str, ...], labels: dict[str, str] | None = None) -> list[SelectChoice]:
    labels = labels or {}
    return [SelectChoice(value, labels.get(value, value.replace("-", " "))) for value in values]


def _optional_id(value: Any) -> int | None:
    # The placeholder option sends "", which is "nothing chosen", not a bad value.
    return None if value in ("", None) else int(value)


class LinesField(TextAreaField):
    """A text area holding one value per line; its data is the list of distinct non-blank lines."""

    data: list[str] | None

    def _value(self) -> str:
        return "\n".join(self.data or [])

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        lines = (line.strip() for line in text.splitlines())
        self.data = list(dict.fromkeys(line for line in lines if line))


class ControlForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(
        "Description",
        validators=[Length(max=10_000)],
        render_kw={"rows": 4},
        description="What the control does and how, in a few sentences.",
    )
    domain = SelectField("Domain", choices=_choices(CONTROL_DOMAINS))
    owner_team = StringField(
        "Owner team",
        validators=[DataRequired(), Length(max=120)],
        render_kw={"list": "owner-teams", "autocomplete": "off"},
        description="The team accountable for it; that team's managers see it.",
    )
    status = SelectField("Status", choices=_choices(CONTROL_STATUSES))
    review_interval_days = IntegerField(
        "Review interval (days)",
        default=365,
        validators=[InputRequired(), NumberRange(1, 3650)],
        description="How often the control is checked; it is flagged once this has passed.",
    )
    last_reviewed_on = DateField("Last reviewed on", validators=[Optional()])
    evidence_links = LinesField(
        "Evidence links",
        render_kw={"rows": 3, "placeholder": "https://wiki.example.com/runbooks/notice-intake"},
        description="One http:// or https:// address per line: runbooks, dashboards, tickets.",
    )

    def validate_evidence_links(self, field: LinesField) -> None:
        problems = services.evidence_link_problems(field.data or [])
        if problems:
            raise ValidationError("; ".join(problems).capitalize() + ".")

    def to_input(self, code: str) -> services.ControlInput:
        return services.ControlInput(
            code=code,
            title=(self.title.data or "").strip(),
            description=(self.description.data or "").strip(),
            domain=self.domain.data or "",
            owner_team=(self.owner_team.data or "").strip(),
            status=self.status.data or "",
            review_interval_days=self.review_interval_days.data or 0,
            last_reviewed_on=self.last_reviewed_on.data,
        )


class NewControlForm(ControlForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message="Letters, digits, '.', '_' and '-'."),
        ],
        render_kw={"placeholder": "TS-NA-02"},
        description="Short and stable; mappings and exports cite it, so it cannot change later.",
    )


class MappingForm(FlaskForm):
    relationship_type = SelectField(
        "Relationship",
        choices=_choices(RELATIONSHIPS),
        description="How the obligation relates to the control (NIST IR 8477 set theory).",
    )
    strength = IntegerField(
        "Strength (1–10)",
        default=5,
        validators=[InputRequired(), NumberRange(1, 10)],
        description="How strongly the control meets the obligation: 10 fully and directly.",
    )
    rationale_type = SelectField("Rationale", choices=_choices(RATIONALE_TYPES, RATIONALE_LABELS))
    coverage = SelectField(
        "Coverage",
        choices=_choices(COVERAGES),
        description="Partial: other controls are needed for the rest of the obligation.",
    )
    note = TextAreaField(
        "Note",
        validators=[Length(max=5000)],
        render_kw={"rows": 3},
        description="Why the control serves the obligation; what a reviewer should know.",
    )

    def to_input(self) -> services.MappingInput:
        return services.MappingInput(
            relationship_type=self.relationship_type.data or "",
            strength=self.strength.data or 0,
            rationale_type=self.rationale_type.data or "",
            coverage=self.coverage.data or "",
            note=(self.note.data or "").strip(),
        )


class MappingFromObligationForm(MappingForm):
    """A new mapping started on an obligation's page: the user chooses the control."""

    control_id = SelectField(
        "Control", coerce=_optional_id, validators=[DataRequired("Choose a control.")]
    )

    def set_controls(self, controls: list[Control]) -> None:
        self.control_id.choices = [SelectChoice("", "Choose a control…")] + [
            SelectChoice(str(control.id), f"{control.code} — {control.title}")
            for control in controls
        ]


class MappingFromControlForm(MappingForm):
    """A new mapping started on a control's page: the user chooses the obligation."""

    obligation_id = SelectField(
        "Obligation", coerce=_optional_id, validators=[DataRequired("Choose an obligation.")]
    )

    def set_obligations(self, obligations: list[Obligation], mapped: set[int]) -> None:
        choices = [SelectChoice("", "Choose an obligation…")]
        for obligation in obligations:
            label = f"{obligation.ref} — {obligation.title}"
            if obligation.id in mapped:
                label += " (already mapped)"
            # <optgroup> per instrument keeps a few hundred options scannable.
            group = obligation.regulation.short_title
            choices.append(SelectChoice(str(obligation.id), label, optgroup=group))
        self.obligation_id.choices = choices


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token guards a one-button POST (delete)."""


class RetireForm(FlaskForm):
    retired = HiddenField(validators=[AnyOf(["yes", "no"])])


class StateForm(FlaskForm):
    state = HiddenField(validators=[AnyOf(["approved", "proposed"])])
