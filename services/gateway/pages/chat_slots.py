"""Author chat slots in the browser.

- On the project page (templates/posters/project.html includes chat_slots/_project_slots.html): the author opens
  and withdraws slots, attendees see the free ones in the insight day's timezone and book them. static/chat_slots.js
  does it with the same /api/v1 a script client uses (matching decides who may do what; a taken slot is its 409).
- "My chats" (/my-chats): my standing bookings, as attendee and as author, with the chat room's id and a cancel
  button, and the slots I wait for. The room link points at /chats/<room_id>, the chat room page, with the number
  of messages I have not read there (the gateway's own chat tables).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.chat.service import my_rooms
from services.gateway.proxy import fetch_json
from shared.errors import ApiError
from shared.service_app import db

bp = Blueprint("chat_slots_pages", __name__)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(item: dict[str, Any]) -> dict[str, str]:
    """The chat's date and times in its insight day's timezone, e.g. ("Tue 3 Jun 2030", "10:00", "10:15")."""
    zone = _zone(str(item.get("timezone") or "UTC"))
    start = datetime.fromisoformat(str(item["starts_at"])).astimezone(zone)
    end = datetime.fromisoformat(str(item["ends_at"])).astimezone(zone)
    return {
        "date": start.strftime("%a %-d %b %Y"),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "zone": zone.key,
    }


@bp.get("/my-chats")
@login_required
def my_chats():  # type: ignore[no-untyped-def]
    try:
        found = fetch_json("matching", "/api/v1/me/chat-bookings", current_user.account)
    except ApiError:
        message = "Your chats cannot be shown right now. Please try again in a moment."
        return render_template("error.html", title="Please try again", message=message), 503
    unread = {room["id"]: room["unread"] for room in my_rooms(db(), current_user.account)}
    bookings = [
        {**item, "when": _when(item), "unread": unread.get(item["room_id"], 0)} for item in found.get("items", [])
    ]
    waiting = [{**item, "when": _when(item)} for item in found.get("waiting", [])]
    return render_template("chat_slots/my_chats.html", bookings=bookings, waiting=waiting)
