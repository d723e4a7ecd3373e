"""Forms for logging in, first-run set-up and managing accounts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from compliance.auth.models import ROLES

ROLE_CHOICES = [SelectChoice(role, role.title()) for role in ROLES]


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class _NewPasswordMixin:
    password = PasswordField("Password", validators=[DataRequired(), Length(min=12, max=1024)])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class SetupForm(_NewPasswordMixin, FlaskForm):
    name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class UserCreateForm(_NewPasswordMixin, FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    team = StringField("Team", validators=[Optional(), Length(max=120)])


class UserEditForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    team = StringField(
        "Team",
        validators=[Optional(), Length(max=120)],
        description="Managers see the controls whose owner team matches this.",
    )
    active = BooleanField("Active")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=12, max=1024)])
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=120)])
    days = IntegerField(
        "Valid for (days)", default=90, validators=[DataRequired(), NumberRange(1, 3650)]
    )


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token guards a one-button POST (log out, revoke)."""
