"""The organiser's "Timetable" page: start a timetable run and watch its live progress bar, see the result as a
grid (slots x rooms) with, for each slot, how many people lose a wanted theme and why; move a breakout to another
slot (drag, or the "move to" list) and see the figures recomputed by the API; lock breakouts and run again; apply.

Thin like the other feature pages: data comes from the matching API as the signed-in organiser; changes are made by
static/timetable.js calling the same /api/v1 routes a script would use.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _error_page, _unavailable

bp = Blueprint("timetable_pages", __name__)


def _shown_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run asked for (?run=), else the newest that succeeded."""
    wanted = request.args.get("run", "")
    succeeded = [r for r in runs if r["status"] == "succeeded"]
    if wanted.isdigit():
        return next((r for r in succeeded if r["id"] == int(wanted)), None)
    return succeeded[0] if succeeded else None


def _grid(run: dict[str, Any] | None, slots: list[dict[str, Any]], breakouts: list[dict[str, Any]]) -> dict[int, Any]:
    """Slot id -> the breakouts the run puts there (or, without a run, where they are now)."""
    grid: dict[int, list[dict[str, Any]]] = {s["id"]: [] for s in slots}
    placement = {int(k): v for k, v in (run or {}).get("placement", {}).items()}
    for breakout in breakouts:
        slot_id = placement.get(breakout["id"], breakout["slot_id"])
        if slot_id in grid:
            grid[slot_id].append(breakout)
    return grid


@bp.get("/events/<int:event_id>/timetable")
@login_required
def timetable_page(event_id: int):  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can timetable the breakouts.")
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    try:
        runs = matching(f"{base}/timetable-runs")["items"]
        locks = matching(f"{base}/timetable-locks")["items"]
        slots = [s for s in matching(f"{base}/slots")["items"] if s["kind"] == "breakout"]
        breakouts = matching(f"{base}/breakouts")["items"]
    except Upstream:
        return _unavailable()
    shown = _shown_run(runs)
    quality = (shown or {}).get("quality") or {}
    losses = {row["slot_id"]: row for row in quality.get("per_slot", [])}
    grid = _grid(shown, slots, breakouts)
    # One column per room; one more so that a breakout can be moved into a slot whose rooms are all taken.
    width = max([s["rooms"] or 0 for s in slots] + [len(cell) for cell in grid.values()] + [1]) + 1
    return render_template(
        "timetable/page.html",
        event=event,
        runs=runs,
        shown=shown,
        quality=quality,
        losses=losses,
        slots=slots,
        grid=grid,
        width=width,
        locked={lock["breakout_id"]: lock["slot_id"] for lock in locks},
        unplaced=[b for b in breakouts if not any(b in cell for cell in grid.values())],
        api=base,
    )
