"""Events from other services that the posters service applies: our local copy of each insight day."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from services.posters.adapters.orm import KnownEvent, ProcessedEvent
from shared.bus import Handler
from shared.events import EventCreated, EventUpdated, ThesaurusUpdated
from shared.inbox import idempotent


def _upsert_event(session: Session, event: EventCreated | EventUpdated) -> None:
    row = session.get(KnownEvent, event.event_id)
    if row is None:
        row = KnownEvent(id=event.event_id, thesaurus=[], search_version=0)
        session.add(row)
    row.title = event.title
    row.starts_at = datetime.fromisoformat(event.starts_at)
    row.ends_at = datetime.fromisoformat(event.ends_at)
    row.timezone = event.timezone


def _set_thesaurus(session: Session, event: ThesaurusUpdated) -> None:
    row = session.get(KnownEvent, event.event_id)
    if row is None:
        # Thesaurus before the event itself (redelivery order): fail so the bus retries after EventCreated.
        raise LookupError(f"event {event.event_id} not known yet")
    row.thesaurus = [str(t) for t in event.themes]


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]
    upsert = idempotent(db, ProcessedEvent, _upsert_event)
    return {
        "EventCreated": upsert,
        "EventUpdated": upsert,
        "ThesaurusUpdated": idempotent(db, ProcessedEvent, _set_thesaurus),
    }
