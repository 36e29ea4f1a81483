"""Idempotent consumption: apply an event and remember its id in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.bus import Handler
from shared.db import Database
from shared.events import DomainEvent, Envelope

Apply = Callable[[Session, Any], None]


def idempotent(db: Database, inbox_model: type[Any], apply: Apply) -> Handler:
    """Wrap `apply(session, typed_event)` so each event_id changes the database at most once.

    The inbox row and the effect commit together; if a concurrent consumer got there first, the primary key
    clash rolls back our copy of the effect too.
    """

    def handle(envelope: Envelope) -> None:
        event: DomainEvent = envelope.parse()
        try:
            with db.unit_of_work() as session:
                if session.get(inbox_model, envelope.event_id) is not None:
                    return
                session.add(inbox_model(event_id=envelope.event_id, type=envelope.type))
                session.flush()
                apply(session, event)
        except IntegrityError:
            with db.unit_of_work() as session:
                if session.get(inbox_model, envelope.event_id) is None:
                    raise

    return handle
