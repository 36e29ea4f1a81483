"""The event home's agenda (`/events/<e>/agenda`): the day's slots, breakouts, poster sessions, coffee rounds and
the signed-in person's own breakouts, booked chats and coffee pairings, in the event's timezone, with a "now /
next" banner during the day and a link into each part.

Rendered from the matching API as the signed-in user (domain/agenda.py puts it together); static/agenda.js
moves the banner along as time passes, from the times in the page, without asking the server again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, render_template
from flask_login import login_required

from services.gateway.domain.agenda import AgendaItem, day_items, now_and_next, parse_utc
from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _unavailable

bp = Blueprint("agenda_pages", __name__)


def _optional(path: str, empty: Any) -> Any:
    """A part of the page that may be missing (e.g. no coffee rounds yet) without failing the whole agenda."""
    try:
        return matching(path)
    except Upstream as exc:
        if exc.status in (403, 404):
            return empty
        raise


@bp.get("/events/<int:event_id>/agenda")
@login_required
def agenda_page(event_id: int):  # type: ignore[no-untyped-def]
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    base = f"/api/v1/events/{event_id}"
    try:
        slots = matching(f"{base}/slots")["items"]
        breakouts = matching(f"{base}/breakouts")["items"]
        schedule = _optional(f"{base}/my-schedule", {})
        rounds = _optional(f"{base}/coffee-rounds", {"items": []}).get("items", [])
    except Upstream:
        return _unavailable()
    try:
        zone = ZoneInfo(str(event["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    items = day_items(event_id, slots, breakouts, schedule, rounds)
    now = datetime.now(UTC)
    banner = now_and_next(items, now, parse_utc(event["starts_at"]), parse_utc(event["ends_at"]))

    def local(moment: datetime, fmt: str = "%H:%M") -> str:
        return moment.astimezone(zone).strftime(fmt)

    def span(item: AgendaItem) -> str:
        return f"{local(item.starts_at)}–{local(item.ends_at)}"

    return render_template(
        "agenda/day.html",
        event=event,
        items=items,
        chats=[i for i in items if i.kind == "my_chat"],
        banner=banner,
        local=local,
        span=span,
        day_starts=parse_utc(event["starts_at"]),
        day_ends=parse_utc(event["ends_at"]),
        published=bool(schedule.get("published")),
        now_moment=now,
    )
