"""Transactional outbox: record events with the change, relay them to the stream after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.bus import Publisher
from shared.db import Database
from shared.events import DomainEvent, Envelope, utcnow

log = logging.getLogger(__name__)


def record(session: Session, outbox_model: type[Any], event: DomainEvent) -> Envelope:
    """Add the event to the outbox in the caller's transaction; it is published only if that commits."""
    envelope = event.envelope()
    session.add(outbox_model(event_id=envelope.event_id, type=envelope.type, body=envelope.to_json()))
    return envelope


class OutboxRelay:
    """Moves committed outbox rows to Redis. Safe to run in several processes at once and to kill anywhere:
    the publisher's at-most-once script makes a re-sent row a no-op, so every event lands exactly once."""

    def __init__(
        self,
        db: Database,
        outbox_model: type[Any],
        publisher: Publisher,
        *,
        batch: int = 100,
        after_publish: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.db = db
        self.model = outbox_model
        self.publisher = publisher
        self.batch = batch
        self.after_publish = after_publish  # hook for crash tests

    def relay_once(self) -> int:
        with self.db.unit_of_work() as session:
            rows = session.scalars(
                select(self.model).where(self.model.published_at.is_(None)).order_by(self.model.id).limit(self.batch)
            ).all()
            for row in rows:
                envelope = Envelope.from_json(row.body)
                self.publisher.publish(envelope)
                if self.after_publish:
                    self.after_publish(envelope)
                row.published_at = utcnow()
                # Commit per row: a crash later in the batch does not resend what is already marked.
                session.commit()
            return len(rows)

    def run_forever(self, poll_s: float = 0.2, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop():
            try:
                if self.relay_once() == 0:
                    time.sleep(poll_s)
            except redis.ConnectionError:
                log.warning("redis unavailable, outbox relay waiting")
                time.sleep(1)
