"""E-mail verification in the browser and the API (services.gateway.verification holds the rules).

- registration answers `202 {"status": "verification_sent"}` / a "check your mail" page, the same for new and taken
  addresses, when EMAIL_VERIFICATION is on (off: the v1 contract `201 {id}` and a signed-in session, as before);
- `GET /verify-email?token=` shows one button that confirms (a POST with a CSRF token: mail scanners that open
  links do not confirm anything), `POST /api/v1/auth/verify-email {token}` does the same for API clients;
- signing in with the right password before confirming answers 403 `email_not_verified` (the page says so).
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_wtf import FlaskForm
from pydantic import BaseModel, ConfigDict, StringConstraints
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from services.gateway import service, verification
from services.gateway.auth import passwords
from services.gateway.forms import LoginForm
from shared.errors import ApiError
from shared.service_app import db
from shared.validation import parse_json

bp = Blueprint("verify_email_pages", __name__)

SENT = {"status": "verification_sent", "message": "check your mail: the link in it activates the account"}
NOT_VERIFIED = "confirm your e-mail address first: follow the link in the mail we sent you"


def enabled() -> bool:
    return bool(current_app.config.get("EMAIL_VERIFICATION"))


def request_registration(new: service.NewUser) -> None:
    """PolicyError (weak password, bad address) propagates; nothing else tells new and taken addresses apart."""
    settings = current_app.config["SETTINGS"]
    verification.request_registration(
        db(), passwords(), new, secret=current_app.config["SECRET_KEY"], public_url=settings.public_url
    )


def api_registration_sent() -> tuple[Response, int]:
    return jsonify(SENT), 202


def page_registration_sent() -> tuple[str, int]:
    return render_template("verify_email/check_mail.html"), 200


class ConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=512)])


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


def _confirm(token: str) -> service.Account:
    return verification.confirm_address(db(), token, secret=current_app.config["SECRET_KEY"])


@bp.route("/verify-email", methods=["GET", "POST"])
def confirm_page():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if request.method == "GET":
        form.token.data = request.args.get("token", "")[:512]
        return render_template("verify_email/confirm.html", form=form, done=False, error=None)
    if not form.validate_on_submit():
        return render_template("verify_email/confirm.html", form=form, done=False, error="This link is not valid."), 400
    try:
        _confirm(form.token.data or "")
    except verification.InvalidLink as exc:
        return render_template("verify_email/confirm.html", form=form, done=False, error=str(exc).capitalize()), 400
    return render_template("verify_email/confirm.html", form=form, done=True, error=None)


@bp.post("/api/v1/auth/verify-email")
def confirm_api():  # type: ignore[no-untyped-def]
    body = parse_json(ConfirmBody)
    try:
        account = _confirm(body.token)
    except verification.InvalidLink as exc:
        raise ApiError(400, "invalid_link", str(exc), "token") from None
    return jsonify({"id": account.id, "email_verified": True})


@bp.app_errorhandler(service.AddressNotVerified)
def not_verified(exc: service.AddressNotVerified):  # type: ignore[no-untyped-def]
    """Raised by authenticate() only after the right password, so it reveals nothing to a guesser."""
    if request.path.startswith("/api/"):
        return jsonify(ApiError(403, "email_not_verified", NOT_VERIFIED, "email").body()), 403
    form = LoginForm()
    form.form_errors.append(NOT_VERIFIED[0].upper() + NOT_VERIFIED[1:] + ".")
    return render_template("login.html", form=form), 403
