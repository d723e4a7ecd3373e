"""The form an officer acts on a change review with, and the one-button promote form."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from compliance.auth.models import User
from compliance.reviews.models import ChangeReview
from compliance.reviews.services import MAX_NOTE, ReviewChanges

STATE_LABELS = {
    "new": "New",
    "triaged": "Triaged",
    "assessing": "Assessing",
    "action-required": "Action required",
    "no-action": "No action",
    "closed": "Closed",
}


def _optional_id(value: Any) -> int | None:
    return None if value in ("", None) else int(value)


class ReviewForm(FlaskForm):
    state = SelectField("Move to", validators=[Optional()])
    assignee_id = SelectField("Assignee", coerce=_optional_id, validators=[Optional()])
    due_on = DateField("Due on", validators=[Optional()])
    decision_note = TextAreaField(
        "Decision",
        validators=[Optional(), Length(max=MAX_NOTE)],
        description="What the change means for the company; needed for action required or "
        "no action.",
    )
    note = TextAreaField(
        "Add a note", validators=[Optional(), Length(max=MAX_NOTE)], render_kw={"rows": 2}
    )

    def fill(self, review: ChangeReview, users: list[User]) -> None:
        """Offer only the states the review can move to, and the users who may act."""
        self.state.choices = [SelectChoice("", f"Keep: {STATE_LABELS[review.state]}")] + [
            SelectChoice(state, STATE_LABELS[state]) for state in review.next_states
        ]
        self.assignee_id.choices = [SelectChoice("", "Nobody")] + [
            SelectChoice(str(user.id), f"{user.display_name} ({user.role})") for user in users
        ]
        if not self.is_submitted():
            self.assignee_id.data = review.assignee_id
            self.due_on.data = review.due_on
            self.decision_note.data = review.decision_note

    def changes(self, review: ChangeReview) -> ReviewChanges:
        assignee = self.assignee_id.data
        return ReviewChanges(
            state=self.state.data or None,
            decision_note=(self.decision_note.data or "").strip(),
            note=(self.note.data or "").strip() or None,
            assignee_id=assignee,
            clear_assignee=assignee is None and review.assignee_id is not None,
            due_on=self.due_on.data,
            clear_due=self.due_on.data is None and review.due_on is not None,
        )


class PromoteForm(FlaskForm):
    """Open a review for an unmatched entry: only the CSRF token."""
