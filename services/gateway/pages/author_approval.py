"""An organiser's "Author approval" page of an insight day: the switch "authors need approval" and, for each author
of the day, whether they are approved and which of their projects wait out of the gallery.

Plain HTML forms (work without JavaScript, CSRF-protected) whose handlers call the posters API the same way a script
client would (GET/PUT /api/v1/events/{e}/author-approval, PUT/DELETE .../authors/{user_id})."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField

from services.gateway.auth import identity_header
from services.gateway.pages.setup import event_or_error
from services.gateway.proxy import call
from services.gateway.web_posters import Upstream, _error_page, _get, _unavailable
from shared.auth import HEADER
from shared.errors import ApiError

bp = Blueprint("author_approval_pages", __name__)


class SwitchForm(FlaskForm):
    required = BooleanField("Authors need approval: their projects stay out of the gallery until an organiser approves")


class ActionForm(FlaskForm):
    """No fields: it exists for its CSRF token (approve / take back)."""


def _organiser_only():  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers decide which authors are approved.")
    return None


def _send(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    headers = {HEADER: identity_header(current_user.account, "posters"), "X-Request-Id": g.request_id}
    headers["Accept"] = "application/json"
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    with call("posters", method, path, headers, data) as response:
        answer = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        return response.status_code, answer


@bp.get("/events/<int:event_id>/author-approval")
@login_required
def approval_page(event_id: int):  # type: ignore[no-untyped-def]
    refused = _organiser_only()
    if refused is not None:
        return refused
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    try:
        overview = _get("posters", f"/api/v1/events/{event_id}/author-approval")
    except Upstream:
        return _unavailable()
    switch = SwitchForm(formdata=None, required=overview["required"])
    return render_template(
        "author_approval/page.html", event=event, overview=overview, switch=switch, action=ActionForm()
    )


def _done(event_id: int, status: int, answer: dict[str, Any], message: str):  # type: ignore[no-untyped-def]
    if status >= 400:
        text = str((answer.get("error") or {}).get("message") or "Something went wrong.")
        return _unavailable() if status >= 500 else _error_page(status, "Not possible", text[:1].upper() + text[1:])
    flash(message)
    return redirect(url_for("author_approval_pages.approval_page", event_id=event_id), 303)


@bp.post("/events/<int:event_id>/author-approval")
@login_required
def switch_approval(event_id: int):  # type: ignore[no-untyped-def]
    form = SwitchForm()
    refused = _organiser_only()
    if refused is not None:
        return refused
    if not form.validate_on_submit():
        return _error_page(400, "Please try again", "The form was too old to send. Reload the page and retry.")
    required = bool(form.required.data)
    try:
        status, answer = _send("PUT", f"/api/v1/events/{event_id}/author-approval", {"required": required})
    except ApiError:
        return _unavailable()
    changed = answer.get("projects_changed", 0)
    if required:
        message = f"Authors now need approval; {changed} project(s) of authors not approved yet left the gallery."
    else:
        message = f"Authors no longer need approval; {changed} waiting project(s) are in the gallery again."
    return _done(event_id, status, answer, message)


@bp.post("/events/<int:event_id>/author-approval/authors/<int:user_id>/<any(approve, revoke):action>")
@login_required
def approve_author(event_id: int, user_id: int, action: str):  # type: ignore[no-untyped-def]
    form = ActionForm()
    refused = _organiser_only()
    if refused is not None:
        return refused
    if not form.validate_on_submit():
        return _error_page(400, "Please try again", "The form was too old to send. Reload the page and retry.")
    method = "PUT" if action == "approve" else "DELETE"
    try:
        status, answer = _send(method, f"/api/v1/events/{event_id}/author-approval/authors/{user_id}")
    except ApiError:
        return _unavailable()
    changed = answer.get("projects_changed", 0)
    message = (
        f"Author approved; {changed} project(s) are in the gallery now."
        if action == "approve"
        else f"Approval taken back; {changed} project(s) left the gallery."
    )
    return _done(event_id, status, answer, message)
