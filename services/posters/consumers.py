"""Events from other services that the posters service applies: our local copy of each insight day."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from services.posters.adapters.orm import KnownEvent, ProcessedEvent
from shared.bus import Handler
from shared.events import EventCreated, EventUpdated, ThesaurusUpdated, is_newer
from shared.inbox import idempotent


def _upsert_event(session: Session, event: EventCreated | EventUpdated) -> None:
    row = session.get(KnownEvent, event.event_id, with_for_update=True)
    if row is None:
        row = KnownEvent(id=event.event_id, thesaurus=[], search_version=0, revision=0, thesaurus_revision=0)
        session.add(row)
    elif not is_newer(event.revision, row.revision):
        return  # an older snapshot delivered late (a retry): the copy is already newer
    row.title = event.title
    row.starts_at = datetime.fromisoformat(event.starts_at)
    row.ends_at = datetime.fromisoformat(event.ends_at)
    row.timezone = event.timezone
    if event.revision is not None:
        row.revision = event.revision


def _set_thesaurus(session: Session, event: ThesaurusUpdated) -> None:
    row = session.get(KnownEvent, event.event_id, with_for_update=True)
    if row is None:
        # Thesaurus before the event itself (redelivery order): fail so the bus retries after EventCreated.
        raise LookupError(f"event {event.event_id} not known yet")
    if not is_newer(event.revision, row.thesaurus_revision):
        return  # an older thesaurus delivered late
    row.thesaurus = [str(t) for t in event.themes]
    if event.revision is not None:
        row.thesaurus_revision = event.revision


def handlers(app: Flask) -> dict[str, Handler]:
    db = app.extensions["db"]
    upsert = idempotent(db, ProcessedEvent, _upsert_event)
    return {
        "EventCreated": upsert,
        "EventUpdated": upsert,
        "ThesaurusUpdated": idempotent(db, ProcessedEvent, _set_thesaurus),
    }
