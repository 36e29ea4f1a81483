"""Assignment pages: the organiser's "Assignment" page (start a run and watch its live progress bar, see each run's
quality beside the upper bound, lock people in place, compare two runs, publish, export) and an attendee's
"My schedule" (breakouts with why, chats, coffee, in the day's timezone).

Thin like the other feature pages: data comes from the matching API as the signed-in user; changes are made by
static/assignment.js calling the same /api/v1 routes a script would use.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _error_page, _unavailable

bp = Blueprint("assignment_pages", __name__)


@bp.get("/events/<int:event_id>/assignment")
@login_required
def assignment_page(event_id: int):  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can run the assignment.")
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    try:
        runs = matching(f"{base}/assignment-runs")["items"]
        locks = matching(f"{base}/assignment-locks")["items"]
        slots = [s for s in matching(f"{base}/slots")["items"] if s["kind"] == "breakout"]
        breakouts = matching(f"{base}/breakouts")["items"]
        setup = matching(f"{base}/setup")
    except Upstream:
        return _unavailable()
    return render_template(
        "assignment/runs.html",
        event=event,
        runs=runs,
        locks=locks,
        slots=slots,
        breakouts=breakouts,
        breakout_by_id={b["id"]: b for b in breakouts},
        slot_by_id={s["id"]: s for s in slots},
        setup=setup,
        api=base,
    )


@bp.get("/events/<int:event_id>/my-schedule")
@login_required
def my_schedule_page(event_id: int):  # type: ignore[no-untyped-def]
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    try:
        mine = matching(f"/api/v1/events/{event_id}/my-schedule")
    except Upstream:
        return _unavailable()
    return render_template("assignment/my_schedule.html", event=event, mine=mine)
