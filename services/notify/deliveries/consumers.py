"""matching's booking, schedule and coffee events -> calendar entries + notifications, each event_id once."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from services.notify import outgoing
from services.notify.adapters.orm import ProcessedEvent
from services.notify.deliveries import service
from shared.bus import Handler
from shared.events import (
    AssignmentsPublished,
    ChatSlotBooked,
    ChatSlotCancelled,
    CoffeeGroupChanged,
    CoffeePaired,
    Envelope,
)
from shared.inbox import idempotent

Apply = Callable[[Session, Any, service.Context], list[int]]


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]
    settings = app.config["SETTINGS"]
    ctx = service.Context(
        public_url=settings.public_url,
        secret=settings.secret_key,
        organizer=parseaddr(settings.mail_from)[1] or "no-reply@insightdays.local",
    )

    def notifying(apply: Apply) -> Handler:
        def handle(envelope: Envelope) -> None:
            made: list[int] = []

            def run(session: Session, event: Any) -> None:
                made.extend(apply(session, event, ctx))

            idempotent(db, ProcessedEvent, run)(envelope)
            # After the commit: push live and enqueue the mails. Lost if we die right here; the sweep sends
            # the mails later and the notifications are in the list.
            outgoing.after_commit(app, made)

        return handle

    return {
        ChatSlotBooked.__name__: notifying(service.apply_chat_booked),
        ChatSlotCancelled.__name__: notifying(service.apply_chat_cancelled),
        AssignmentsPublished.__name__: notifying(service.apply_assignments_published),
        CoffeePaired.__name__: notifying(service.apply_coffee_paired),
        CoffeeGroupChanged.__name__: notifying(service.apply_coffee_group_changed),
    }
