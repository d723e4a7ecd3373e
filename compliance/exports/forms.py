"""Forms of the exports page (a download button per format) and of the import page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, Optional, Regexp

from compliance.exports.formats import FORMATS
from compliance.mapping.models import CONTROL_DOMAINS, CONTROL_STATUSES


def _choices(values: tuple[str, ...]) -> list[SelectChoice]:
    return [SelectChoice(value, value.replace("-", " ")) for value in values]


class DownloadForm(FlaskForm):
    """The filters travel in the query string; the body carries the token, format and BOM."""

    format = StringField(validators=[AnyOf(list(FORMATS))])  # the pressed button's value
    bom = BooleanField("CSV with a byte-order mark (for Excel)")


class TrailDownloadForm(FlaskForm):
    format = StringField(validators=[AnyOf(["csv", "json"])])


class ImportForm(FlaskForm):
    file = FileField(
        "File",
        validators=[FileRequired("Choose a file to import.")],
        description="CSV or XLSX with a mapping export's columns, or an OSCAL catalog (JSON).",
    )
    kind = RadioField(
        "What the file holds",
        choices=[
            SelectChoice("table", "Controls and mappings (CSV or XLSX, the export's columns)"),
            SelectChoice(
                "oscal", "An OSCAL catalog, as a framework of controls (e.g. NIST SP 800-53)"
            ),
        ],
        default="table",
    )
    prefix = StringField(
        "Code prefix",
        validators=[
            Optional(),
            Length(max=20),
            Regexp(r"^[A-Za-z][A-Za-z0-9-]*$", message="Letters, digits and '-'."),
        ],
        render_kw={"placeholder": "NIST-"},
        description="OSCAL only: put before each control id, so AC-2 becomes NIST-AC-2.",
    )
    domain = SelectField(
        "Domain",
        choices=_choices(CONTROL_DOMAINS),
        validate_choice=False,  # only OSCAL imports use it; the service checks it then
        description="OSCAL only: the domain of the imported controls.",
    )
    owner_team = StringField(
        "Owner team",
        validators=[Optional(), Length(max=120)],
        description="OSCAL only: the team that will own the imported controls.",
    )
    status = SelectField(
        "Status",
        choices=_choices(CONTROL_STATUSES),
        validate_choice=False,
        default="not-implemented",
        description="OSCAL only: the status the imported controls start with.",
    )
