"""The organiser's outcome report page: what the day achieved, with filters, charts (Chart.js, from npm) and a table
beside every chart for screen readers, and a CSV export. Figures come from matching's report API, which already hid
every figure under 5 people ("<5" here)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _error_page, _unavailable

bp = Blueprint("outcome_pages", __name__)

FILTERS = ("region", "newcomer", "org_size")
LABELS = {
    "registered": "Registered",
    "active": "Active on the day",
    "followed_up": "Followed up",
    "viewed_posters": "Viewed a poster",
    "viewed_3_posters": "Viewed 3+ posters",
    "booked_chat": "Booked a 1-1 chat",
    "held_chat": "Held a 1-1 chat",
    "noted_followup": "Noted a follow-up action",
    "placed_breakout": "Placed in a breakout",
    "coffee_opted_in": "Opted in to coffee",
    "coffee_accepted": "Accepted a coffee pairing",
    "coffee_held": "Had coffee",
    "first_time": "first-time",
    "returning": "returning",
    "small": "small organisation",
    "larger": "larger organisation",
    "new": "New",
    "already_known": "Already known",
    "total": "Total",
    "people": "People",
    "organisations": "Organisations",
    "largest_org_percent": "Largest organisation (%)",
    "answered": "Answered",
    "contacted_someone": "Contacted someone",
    "adopted_something": "Adopted or reused something",
}


@bp.get("/events/<int:event_id>/outcomes")
@login_required
def outcomes_page(event_id: int):  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only the day's organiser sees its outcome report.")
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    params = {name: request.args.get(name, "") for name in FILTERS}
    try:
        report = matching(f"/api/v1/events/{event_id}/outcomes", params)
    except Upstream as exc:
        if exc.status == 403:
            return _error_page(403, "Not your day", "Only the day's organiser sees its outcome report.")
        if exc.status == 400:
            return _error_page(400, "Unknown filter", "That filter value is not offered for this day.")
        return _unavailable()
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render_template(
        "outcomes/report.html",
        event=event,
        report=report,
        labels=LABELS,
        csv_url=f"/api/v1/events/{event_id}/outcomes.csv" + (f"?{query}" if query else ""),
    )
