"""An attendee's "Register for this day" page: up to five themes in rank order, tools and interests.

Rendered from the matching API as the signed-in user; static/setup.js saves the form with the same
PUT /api/v1/events/{e}/registration a script client would use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _unavailable

bp = Blueprint("registration_pages", __name__)

RANKS = ("1st", "2nd", "3rd", "4th", "5th")


@bp.get("/events/<int:event_id>/register")
@login_required
def register_page(event_id: int):  # type: ignore[no-untyped-def]
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    registration: dict[str, Any] | None = None
    try:
        setup = matching(f"{base}/setup")
        thesaurus = matching(f"{base}/thesaurus")
        try:
            registration = matching(f"{base}/registration")
        except Upstream as exc:
            if exc.status != 404:  # 404: not registered yet
                raise
    except Upstream:
        return _unavailable()
    chosen = list((registration or {}).get("themes", []))
    return render_template(
        "registration/register.html",
        event=event,
        setup=setup,
        themes=[t["name"] for t in thesaurus["themes"]],
        registration=registration,
        chosen=chosen + [""] * (len(RANKS) - len(chosen)),
        ranks=RANKS,
        is_organiser=current_user.account.has_role("organiser"),
        api=f"{base}/registration",
    )
