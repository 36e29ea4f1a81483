"""Flask-WTF forms of the browser pages; each carries a CSRF token checked on submit."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from services.gateway.domain.accounts import PASSWORD_MAX

try:  # WTForms >= 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice

    ROLE_CHOICES: list = [SelectChoice("attendee", "Attendee"), SelectChoice("author", "Author (I present a project)")]
except ImportError:  # pragma: no cover - older WTForms
    ROLE_CHOICES = [("attendee", "Attendee"), ("author", "Author (I present a project)")]


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class RegisterForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)], description="At least 10 characters."
    )
    display_name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    organisation = StringField("Organisation", validators=[DataRequired(), Length(max=200)])
    region = StringField("Region", validators=[DataRequired(), Length(max=120)])
    role = SelectField(
        "I am joining as",
        choices=ROLE_CHOICES,
        default="attendee",
    )


class LogoutForm(FlaskForm):
    """No fields: it exists for its CSRF token."""
