"""The "Coffee" page of a day: random coffee rounds in the browser.

Attendees registered for the day opt in to a round, see their partner(s) with only what each allowed them, accept
or ask for someone else (a rematch), or leave. Organisers create a round (at a coffee slot's time or a time of
their own) with the minimum share of cross-organisation pairs, run the pairing and see the share achieved, or why
the minimum is out of reach. Rendered from the matching API as the signed-in user; static/coffee.js makes every
change through the same /api/v1 a script client uses, with the CSRF header.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _unavailable

bp = Blueprint("coffee_pages", __name__)


@bp.get("/events/<int:event_id>/coffee")
@login_required
def coffee_page(event_id: int):  # type: ignore[no-untyped-def]
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    registered = True
    try:
        rounds = matching(f"/api/v1/events/{event_id}/coffee-rounds")
        try:
            matching(f"/api/v1/events/{event_id}/registration")
        except Upstream as exc:
            if exc.status != 404:
                raise
            registered = False
    except Upstream:
        return _unavailable()
    items: list[dict[str, Any]] = rounds["items"]
    return render_template(
        "coffee/day.html",
        event=event,
        rounds=items,
        coffee_slots=rounds["coffee_slots"],
        minutes=rounds["minutes"],
        registered=registered,
        is_organiser=current_user.account.has_role("organiser"),
    )
