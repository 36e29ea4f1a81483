"""An organiser's "Day set-up" page: thesaurus, registration deadline, slots (with rooms), breakouts (placed in a
slot or left to the timetable run, with their timetabling constraints), registrations (CSV import and export).

Thin like the poster pages: it fetches what it shows from the matching API as the signed-in organiser and renders
it; every change is made by static/setup.js calling the same /api/v1 routes a script client would use.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.web_posters import Upstream, _error_page, _get, _unavailable

bp = Blueprint("setup_pages", __name__)

SLOT_KINDS = (
    ("breakout", "Breakouts"),
    ("posters", "Poster browsing"),
    ("coffee", "Coffee pairing"),
    ("chat", "1-1 chats"),
)
REGISTRATIONS_SHOWN = 50


def matching(path: str, params: dict[str, Any] | None = None) -> Any:
    """GET a matching API path as the signed-in user (raises Upstream when it does not answer 200)."""
    return _get("matching", path, params)


def event_or_error(event_id: int) -> tuple[dict[str, Any] | None, Any]:
    """The insight day, or the error page to answer instead."""
    try:
        return matching(f"/api/v1/events/{event_id}"), None
    except Upstream as exc:
        if exc.status == 404:
            return None, _error_page(404, "Not found", "There is no such insight day.")
        return None, _unavailable()


@bp.get("/events/<int:event_id>/setup")
@login_required
def setup_page(event_id: int):  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can set up an insight day.")
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    try:
        setup = matching(f"{base}/setup")
        thesaurus = matching(f"{base}/thesaurus")
        slots = matching(f"{base}/slots")["items"]
        breakouts = matching(f"{base}/breakouts")["items"]
        registrations = matching(f"{base}/registrations", {"per_page": REGISTRATIONS_SHOWN})
    except Upstream:
        return _unavailable()
    slot_by_id = {s["id"]: s for s in slots}
    return render_template(
        "setup/day.html",
        event=event,
        setup=setup,
        thesaurus=thesaurus,
        thesaurus_text="\n".join(
            t["name"] + (" = " + ", ".join(t["synonyms"]) if t["synonyms"] else "") for t in thesaurus["themes"]
        ),
        slots=slots,
        slot_by_id=slot_by_id,
        breakout_slots=[s for s in slots if s["kind"] == "breakout"],
        breakouts=breakouts,
        breakout_by_id={b["id"]: b for b in breakouts},
        to_be_placed=sum(1 for b in breakouts if b["slot_id"] is None),
        registrations=registrations,
        kinds=SLOT_KINDS,
        kind_names=dict(SLOT_KINDS),
        api=base,
    )
