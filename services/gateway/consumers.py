"""Events from other services that the gateway applies: matching's chat bookings open and close chat rooms."""

from __future__ import annotations

from flask import Flask

from services.gateway.adapters.orm import ProcessedEvent
from services.gateway.chat import service as chat
from shared.bus import Handler
from shared.inbox import idempotent


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]
    return {
        "ChatSlotBooked": idempotent(db, ProcessedEvent, chat.apply_booked),
        "ChatSlotCancelled": idempotent(db, ProcessedEvent, chat.apply_cancelled),
    }
