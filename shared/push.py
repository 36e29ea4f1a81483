"""Live pushes to browsers: a write-only Socket.IO emitter over the Redis message queue.

The gateway process owns the websocket connections; notify and matching only publish to the queue it listens on.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_socketio import SocketIO

log = logging.getLogger(__name__)

NAMESPACE = "/chat"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


class Pusher:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._socketio: SocketIO | None = None

    def _emitter(self) -> SocketIO:
        if self._socketio is None:  # made on first use: nothing connects at app creation
            self._socketio = SocketIO(message_queue=self.redis_url)
        return self._socketio

    def emit_to_user(self, user_id: int, event: str, data: dict[str, Any]) -> bool:
        """Best effort: the stored notification is the truth, a lost push only delays what the user sees."""
        try:
            self._emitter().emit(event, data, to=user_room(user_id), namespace=NAMESPACE)
            return True
        except Exception:  # noqa: BLE001 - a push must never undo or fail the work already committed
            log.warning("push failed", exc_info=True, extra={"user_id": user_id, "push_event": event})
            return False
