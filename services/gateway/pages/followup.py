"""Follow-up pages: "My follow-up" (the days I took part in, my open follow-up actions), one day's digest, and
the follow-up survey.

Thin: the data comes from notify's follow-up API as the signed-in user. The survey is a plain HTML form (works
without JavaScript, CSRF-protected) that someone can also answer from the survey mail without signing in: the
signed token in the link (`?t=`) is passed to notify, which alone can check it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from services.gateway.auth import identity_header
from services.gateway.proxy import call
from services.gateway.web_posters import Upstream, _error_page, _get, _unavailable
from shared.auth import HEADER
from shared.errors import ApiError

bp = Blueprint("followup_pages", __name__)

YES_NO = [("yes", "Yes"), ("no", "No")]
MAX_BLOCKERS = 1000


class SurveyForm(FlaskForm):
    contacted_someone = RadioField(
        "Since the day, did you contact anyone you met there?",
        choices=YES_NO,
        validators=[InputRequired(message="Choose yes or no.")],
    )
    adopted_something = RadioField(
        "Did you adopt or reuse anything you saw (a method, code, a data set, an idea)?",
        choices=YES_NO,
        validators=[InputRequired(message="Choose yes or no.")],
    )
    blockers = TextAreaField(
        "What stopped you, or what would have helped? (optional)",
        validators=[Length(max=MAX_BLOCKERS, message=f"At most {MAX_BLOCKERS} characters.")],
        render_kw={"maxlength": MAX_BLOCKERS, "rows": 4},
    )
    token = HiddenField()


def _notify(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Call notify as the signed-in person, or with no identity at all (the survey token speaks for itself)."""
    headers = {"X-Request-Id": g.request_id, "Accept": "application/json"}
    if current_user.is_authenticated:
        headers[HEADER] = identity_header(current_user.account, "notify")
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    with call("notify", method, path, headers, data) as response:
        answer = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        return response.status_code, answer


@bp.get("/followup")
@login_required
def my_followup():  # type: ignore[no-untyped-def]
    try:
        found = _get("notify", "/api/v1/me/followup")
    except Upstream:
        return _unavailable()
    return render_template("followup/mine.html", days=found["days"], actions=found["actions"])


@bp.get("/followup/events/<int:event_id>")
@login_required
def digest_page(event_id: int):  # type: ignore[no-untyped-def]
    try:
        digest = _get("notify", f"/api/v1/me/followup/events/{event_id}")
    except Upstream as exc:
        if exc.status == 404:
            return _error_page(404, "Not found", "There is no follow-up of that day for you (yet).")
        return _unavailable()
    return render_template("followup/digest.html", digest=digest)


def _survey_refused(status: int, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    code = (body.get("error") or {}).get("code")
    if status == 401:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")), 303)
    if code == "invalid_token":
        return _error_page(
            403, "This link does not work", "The survey link was changed or is too old. Sign in to answer instead."
        )
    if code == "not_attendee":
        return _error_page(403, "Not your survey", "Only people who took part in that day can answer its survey.")
    if status == 404:
        return _error_page(404, "Not found", "There is no follow-up survey for that day (yet).")
    return _unavailable()


def _survey_page(event_id: int, form: SurveyForm | None, status: int = 200):  # type: ignore[no-untyped-def]
    token = request.values.get("t") or request.values.get("token") or ""
    path = f"/api/v1/followup/surveys/{event_id}"
    try:
        query = "?" + urlencode({"token": token}) if token and not current_user.is_authenticated else ""
        code, survey = _notify("GET", path + query)
    except ApiError:
        return _unavailable()
    if code != 200:
        return _survey_refused(code, survey)
    if form is None:
        answer = survey.get("answer") or {}
        form = SurveyForm(
            formdata=None,
            contacted_someone=None if not answer else ("yes" if answer["contacted_someone"] else "no"),
            adopted_something=None if not answer else ("yes" if answer["adopted_something"] else "no"),
            blockers=answer.get("blockers", ""),
            token=token,
        )
    return render_template("followup/survey.html", survey=survey, form=form, token=token), status


@bp.get("/followup/survey/<int:event_id>")
def survey_page(event_id: int):  # type: ignore[no-untyped-def]
    return _survey_page(event_id, None)


@bp.post("/followup/survey/<int:event_id>")
def survey_post(event_id: int):  # type: ignore[no-untyped-def]
    form = SurveyForm()
    if not form.validate_on_submit():
        if form.errors.keys() == {"csrf_token"}:
            return _error_page(400, "Please try again", "The form was too old to send. Reload the page and retry.")
        return _survey_page(event_id, form, 400)
    body: dict[str, Any] = {
        "contacted_someone": form.contacted_someone.data == "yes",
        "adopted_something": form.adopted_something.data == "yes",
        "blockers": form.blockers.data or "",
    }
    token = form.token.data or ""
    if token and not current_user.is_authenticated:
        body["token"] = token
    try:
        status, answer = _notify("PUT", f"/api/v1/followup/surveys/{event_id}", body)
    except ApiError:
        return _unavailable()
    if status == 200:
        flash("Thank you: your answers are saved. You can change them here at any time.")
        target = url_for("followup_pages.survey_page", event_id=event_id, t=token or None)
        return redirect(target, 303)
    if status == 400:
        error = answer.get("error") or {}
        field = getattr(form, str(error.get("field") or ""), None)
        message = str(error.get("message") or "Please check this answer.")
        if field is not None and field.name != "csrf_token":
            field.errors = [message[:1].upper() + message[1:]]
            return _survey_page(event_id, form, 400)
    return _survey_refused(status, answer)
