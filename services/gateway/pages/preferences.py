"""Notification preferences in the browser, and the target of every mail's unsubscribe link.

- `/preferences` (signed in): per category in-app on/off and email now / daily digest / off, reminder offsets,
  the digest hour and timezone, the private calendar feed URL (create, regenerate, revoke). Rendered from notify's
  API as the signed-in user; static/preferences.js saves through the same /api/v1 a script client uses.
- `/unsubscribe/<token>`: the URL in `List-Unsubscribe`. GET shows what it stops and one button; POST stops that
  category's email. The signed token is the only credential: no session and no CSRF token, because a mail client
  posts it on its own (RFC 8058 one-click); notify checks the signature and refuses a tampered link.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, render_template
from flask_login import login_required

from services.gateway.proxy import call
from services.gateway.web_posters import Upstream, _get, _unavailable
from shared.errors import ApiError

bp = Blueprint("preferences_pages", __name__)

CATEGORY_LABELS = {
    "bookings": ("Chat bookings", "A 1-1 chat booked, moved or cancelled (with a calendar invitation)."),
    "reminders": ("Reminders", "Before each chat, breakout and coffee in your schedule."),
    "schedule": ("Your schedule", "Your breakouts and coffee pairings when they are published."),
    "followup": ("Follow-up", "The digest after the day, the short survey, open follow-up actions."),
    "news": ("News", "Announcements about insight days."),
}
OFFSET_CHOICES = (
    (7 * 24 * 60, "1 week"),
    (24 * 60, "1 day"),
    (120, "2 hours"),
    (60, "1 hour"),
    (30, "30 minutes"),
    (15, "15 minutes"),
    (5, "5 minutes"),
)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_.-]{1,512}$")  # itsdangerous' URL-safe alphabet


@bp.get("/preferences")
@login_required
def preferences_page():  # type: ignore[no-untyped-def]
    try:
        settings = _get("notify", "/api/v1/me/notification-settings")
        feed = _get("notify", "/api/v1/me/calendar-token")
    except Upstream:
        return _unavailable()
    return render_template(
        "preferences/page.html",
        settings=settings,
        feed=feed,
        labels=CATEGORY_LABELS,
        offset_choices=OFFSET_CHOICES,
    )


def _unsubscribe_call(method: str, token: str) -> tuple[int, dict[str, Any]]:
    """Ask notify (no identity: the token speaks for itself). (status, body); 502 when notify is unreachable."""
    headers = {"X-Request-Id": g.request_id, "Accept": "application/json"}
    path = "/api/v1/unsubscribe/" + token
    try:
        with call("notify", method, path, headers, None) as response:
            body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
            return response.status_code, body
    except ApiError:
        return 502, {}


def _page(token: str, method: str):  # type: ignore[no-untyped-def]
    if not TOKEN_SHAPE.match(token):
        status, body = 400, {}
    else:
        status, body = _unsubscribe_call(method, token)
    if status == 400 or status == 404:
        return render_template("preferences/unsubscribe.html", state="invalid", token=token), 400
    if status != 200:
        return _unavailable()
    category = str(body.get("category", ""))
    label = CATEGORY_LABELS.get(category, (category, ""))[0]
    state = "done" if method == "POST" else ("off" if body.get("email") == "off" else "confirm")
    return render_template("preferences/unsubscribe.html", state=state, token=token, label=label)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):  # type: ignore[no-untyped-def]
    return _page(token, "GET")


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str):  # type: ignore[no-untyped-def]
    # Deliberately no CSRF token: mail clients post here without a session (RFC 8058). All it can do is switch
    # one category's email off for the person the signed token names.
    return _page(token, "POST")
