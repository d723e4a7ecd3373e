"""Forms for feed sources: add one, edit one, and the one-button actions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from compliance.feeds.services import MAX_INTERVAL_MINUTES


class SourceForm(FlaskForm):
    url = StringField(
        "Feed URL",
        validators=[DataRequired(), Length(max=1000)],
        description="The RSS or Atom address, http:// or https://. Private and loopback "
        "addresses are refused unless the server's FETCH_ALLOW lists them.",
    )
    name = StringField(
        "Name",
        validators=[Optional(), Length(max=200)],
        description='What the feed is, e.g. "Ofcom news". Empty: the host name.',
    )
    interval_minutes = IntegerField(
        "Poll every (minutes)",
        validators=[Optional(), NumberRange(min=1, max=MAX_INTERVAL_MINUTES)],
        description="Empty: the default. Poll regulators politely: hourly or less often.",
    )
    enabled = BooleanField("Poll it", default=True)


class SourceEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    interval_minutes = IntegerField(
        "Poll every (minutes)",
        validators=[DataRequired(), NumberRange(min=1, max=MAX_INTERVAL_MINUTES)],
    )


class ToggleForm(FlaskForm):
    enabled = HiddenField(validators=[AnyOf(["yes", "no"])])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token."""
