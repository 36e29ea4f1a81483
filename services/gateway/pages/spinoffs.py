"""An organiser's "Suggested spin-off workshops" page (linked from the Day set-up page): groups of the day's
published projects with similar aims, each with its projects and a one-click form that turns it into a breakout.

Thin like the set-up page: it reads from the matching API as the signed-in organiser; the form is a plain HTML form
(works without JavaScript, CSRF-protected) whose handler calls the same /api/v1 route a script client would use and
shows the API's refusals next to the field they name.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired

from services.gateway.auth import identity_header
from services.gateway.pages.setup import event_or_error, matching
from services.gateway.proxy import call
from services.gateway.web import in_zone
from services.gateway.web_posters import Upstream, _error_page, _unavailable
from shared.auth import HEADER
from shared.errors import ApiError

bp = Blueprint("spinoff_pages", __name__)

DEFAULT_CAPACITY = 12


class SpinoffBreakoutForm(FlaskForm):
    """One suggestion's "Create breakout" form (prefixed with the suggestion's key: one per suggestion on a page).
    Only the shape is checked here; the matching API decides the rest and names the field at fault."""

    slot_id = SelectField(
        "Slot",
        coerce=int,
        validate_choice=False,  # the API says whether it is one of the day's breakout slots
        validators=[InputRequired(message="Pick a breakout slot.")],
    )
    capacity = IntegerField(
        "Capacity",
        default=DEFAULT_CAPACITY,
        validators=[InputRequired(message="Say how many people the breakout takes.")],
        description="How many people the breakout takes.",
        render_kw={"min": 1, "max": 10000, "step": 1, "inputmode": "numeric"},
    )
    title = StringField(
        "Breakout title",
        validators=[InputRequired(message="Give the breakout a title.")],
        render_kw={"maxlength": 200},
    )
    force = BooleanField("Change the published schedule anyway (the assignment must then run again)")


def _fresh_form(suggestion: dict[str, Any]) -> SpinoffBreakoutForm:
    """The suggestion's form as first shown: the proposed title, the default capacity, the first slot."""
    return SpinoffBreakoutForm(prefix=f"s-{suggestion['key']}", formdata=None, title=suggestion["title"])


def _slot_label(slot: dict[str, Any], zone: str) -> str:
    """ "10:00–11:00" in the day's timezone, as the set-up page shows slots."""
    return f"{in_zone(slot['starts_at'], zone, '%H:%M')}–{in_zone(slot['ends_at'], zone, '%H:%M')}"


def _organiser_only():  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can see spin-off suggestions.")
    return None


def _page(event_id: int, failed: tuple[str, SpinoffBreakoutForm, str | None] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    """The page; `failed` = (key, its submitted form with errors, an error about the whole form)."""
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    try:
        setup = matching(f"{base}/setup")
        slots = [s for s in matching(f"{base}/slots")["items"] if s["kind"] == "breakout"]
        found = matching(f"{base}/spinoff-suggestions")
    except Upstream:
        return _unavailable()
    zone = event["timezone"]
    items = []
    for suggestion in found["items"]:
        if failed is not None and failed[0] == suggestion["key"]:
            form, form_error = failed[1], failed[2]
        else:
            form, form_error = _fresh_form(suggestion), None
        form.slot_id.choices = [(s["id"], _slot_label(s, zone)) for s in slots]
        items.append({"s": suggestion, "form": form, "form_error": form_error})
    missing = failed is not None and all(i["s"]["key"] != failed[0] for i in items)
    if missing:  # the suggestion changed in between: say so above the list
        flash("That suggestion no longer matches the day's projects; here are the current suggestions.")
    html = render_template(
        "spinoffs/page.html",
        event=event,
        setup=setup,
        slots=slots,
        items=items,
        considered=found["projects_considered"],
    )
    return html, status


@bp.get("/events/<int:event_id>/spinoffs")
@login_required
def spinoffs_page(event_id: int):  # type: ignore[no-untyped-def]
    return _organiser_only() or _page(event_id)


def _post_json(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {
        HEADER: identity_header(current_user.account, "matching"),
        "X-Request-Id": g.request_id,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    with call("matching", "POST", path, headers, json.dumps(body).encode()) as response:
        data = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        return response.status_code, data


@bp.post("/events/<int:event_id>/spinoffs/<key>")
@login_required
def create_breakout(event_id: int, key: str):  # type: ignore[no-untyped-def]
    refused = _organiser_only()
    if refused is not None:
        return refused
    form = SpinoffBreakoutForm(prefix=f"s-{key}")
    if not form.validate_on_submit():
        if form.errors.keys() == {"csrf_token"}:
            return _error_page(400, "Please try again", "The form was too old to send. Reload the page and retry.")
        return _page(event_id, (key, form, None), 400)
    body: dict[str, Any] = {"slot_id": form.slot_id.data, "capacity": form.capacity.data, "title": form.title.data}
    path = f"/api/v1/events/{event_id}/spinoff-suggestions/{key}/breakout" + ("?force=1" if form.force.data else "")
    try:
        status, answer = _post_json(path, body)
    except ApiError:
        return _unavailable()
    if status == 201:
        message = f"Breakout “{answer['title']}” created on the theme “{answer['theme']}”"
        message += " (added to the day's themes)." if answer.get("theme_added") else "."
        flash(message)
        return redirect(url_for("spinoff_pages.spinoffs_page", event_id=event_id), 303)
    error = answer.get("error") or {}
    code, field, text = error.get("code"), error.get("field"), str(error.get("message") or "Something went wrong.")
    if status in (404, 409) and code in ("stale_suggestion", "not_found") and field is None:
        if code == "not_found" and "event" in text:
            return _error_page(404, "Not found", "There is no such insight day.")
        flash("That suggestion no longer matches the day's projects; here are the current suggestions.")
        return redirect(url_for("spinoff_pages.spinoffs_page", event_id=event_id), 303)
    if status >= 500 or status in (401, 403):
        return _unavailable() if status >= 500 else _error_page(status, "Organisers only", text)
    sentence = text[:1].upper() + text[1:]
    if code == "published":
        form.force.errors = [
            "This day's schedule is already published. Tick this box to create the breakout anyway; the "
            "assignment then has to run again."
        ]
        return _page(event_id, (key, form, None), status)
    target = {"slot_id": form.slot_id, "capacity": form.capacity, "title": form.title}.get(field or "")
    if target is not None:
        target.errors = [sentence]
        return _page(event_id, (key, form, None), status)
    return _page(event_id, (key, form, sentence), status)


@bp.app_template_filter("percent")
def percent(value: float) -> str:
    return f"{round(float(value) * 100)}%"
