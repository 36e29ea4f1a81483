"""Chat room pages: the room (/chats/<room_id>) and the list of my rooms with unread counts (/chats).

The room page is a shell: static/chat.js joins the room over Socket.IO (history, presence, typing, live messages),
queues messages written offline in localStorage and sends them once on reconnect. The same access rule as the API:
participants and organisers; anybody else gets the same "not found" as for a room that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from services.gateway.chat import service
from services.gateway.chat.service import RoomNotFound
from services.gateway.proxy import fetch_json
from shared.errors import ApiError
from shared.service_app import db

bp = Blueprint("chat_pages", __name__)


def _zone_of_event(event_id: int | None) -> ZoneInfo:
    """The insight day's timezone (matching owns days); UTC when it cannot be asked."""
    if event_id is None:
        return ZoneInfo("UTC")
    try:
        event = fetch_json("matching", f"/api/v1/events/{event_id}", current_user.account)
        return ZoneInfo(str(event.get("timezone") or "UTC"))
    except (ApiError, ZoneInfoNotFoundError, ValueError, AttributeError):
        return ZoneInfo("UTC")


def _local(iso: str | None, zone: ZoneInfo) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%a %-d %b %Y, %H:%M")


def _other_name(room: dict[str, Any], me: int) -> str:
    others = [p["display_name"] for p in room["participants"] if p["id"] != me]
    return others[0] if others else room["participants"][0]["display_name"]


@bp.get("/chats")
@login_required
def rooms_page():  # type: ignore[no-untyped-def]
    me = current_user.account.id
    rooms = service.my_rooms(db(), current_user.account)
    for room in rooms:
        room["with_name"] = _other_name(room, me)
    return render_template("chat/rooms.html", rooms=rooms)


@bp.get("/chats/<room_id>")
@login_required
def room_page(room_id: str):  # type: ignore[no-untyped-def]
    try:
        room = service.room_details(db(), room_id, current_user.account)
    except RoomNotFound:
        message = "There is no chat room here, or it is not yours."
        return render_template("error.html", title="Chat room not found", message=message), 404
    zone = _zone_of_event(room["event_id"])
    when = {"start": _local(room["starts_at"], zone), "end": _local(room["ends_at"], zone), "zone": zone.key}
    return render_template(
        "chat/room.html", room=room, when=when, with_name=_other_name(room, current_user.account.id)
    )
