"""Emits to a chat room's sockets, always through the Redis message queue, so every gateway process delivers."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

log = logging.getLogger(__name__)

NAMESPACE = "/chat"


def room_key(room_id: str) -> str:
    return f"chat:{room_id}"


def room_event(room_id: str, event: str, data: dict[str, Any], skip_sid: str | None = None) -> None:
    try:
        current_app.extensions["socketio"].emit(
            event, data, to=room_key(room_id), namespace=NAMESPACE, skip_sid=skip_sid
        )
    except Exception:  # noqa: BLE001 - the change is committed; a reconnecting client fetches what it missed
        log.warning("chat broadcast failed", exc_info=True, extra={"room_id": room_id, "push_event": event})


def message(data: dict[str, Any]) -> None:
    """Called only after the message is committed: what a client sees always has a server id to resume from."""
    room_event(str(data["room_id"]), "message", data)
