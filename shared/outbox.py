"""Transactional outbox: record events with the change, relay them to the stream after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.bus import Publisher
from shared.db import Database
from shared.events import DomainEvent, Envelope, utcnow
from shared.resilience import LoopHealth, run_resilient

log = logging.getLogger(__name__)


def record(session: Session, outbox_model: type[Any], event: DomainEvent) -> Envelope:
    """Add the event to the outbox in the caller's transaction; it is published only if that commits."""
    envelope = event.envelope()
    session.add(outbox_model(event_id=envelope.event_id, type=envelope.type, body=envelope.to_json()))
    return envelope


class OutboxRelay:
    """Moves committed outbox rows to Redis. Safe to run in several processes at once and to kill anywhere:
    the publisher's at-most-once script makes a re-sent row a no-op, so every event lands exactly once.

    Redis acknowledges an XADD before it reaches the disk (AOF `everysec`), so a crashed Redis can come back
    without the last second of events that this relay already marked published, or empty. When Redis's
    `run_id` changes (and when this process starts), the rows published in the last `rerelay_window_s` are
    sent again, or every retained row if the stream itself is gone; the at-most-once script skips what Redis
    still has, and consumers skip by event_id what they already applied.
    """

    def __init__(
        self,
        db: Database,
        outbox_model: type[Any],
        publisher: Publisher,
        *,
        batch: int = 100,
        after_publish: Callable[[Envelope], None] | None = None,
        rerelay_window_s: float = 300.0,
        retention_s: float = 7 * 24 * 3600.0,
        health: LoopHealth | None = None,
    ) -> None:
        self.db = db
        self.model = outbox_model
        self.publisher = publisher
        self.batch = batch
        self.after_publish = after_publish  # hook for crash tests
        self.rerelay_window_s = rerelay_window_s
        self.retention_s = retention_s
        self.health = health or LoopHealth("outbox-relay")
        self._redis_run_id: str | None = None
        self._run_id_checked = 0.0

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

    def rerelay_if_redis_restarted(self) -> int:
        """Send recent rows again if Redis is not the instance this relay last saw; returns how many landed."""
        client = self.publisher.client
        run_id = str(client.info("server")["run_id"])
        if run_id == self._redis_run_id:
            return 0
        lost_stream = not client.exists(self.publisher.stream)
        window = self.retention_s if lost_stream else self.rerelay_window_s
        landed = self.rerelay_since(utcnow() - timedelta(seconds=window))
        self._redis_run_id = run_id  # only once the re-relay went through; an error retries it next turn
        if landed or self._run_id_checked:
            log.warning(
                "redis instance changed: re-relayed recent events",
                extra={"landed_again": landed, "window_s": window, "stream_lost": lost_stream},
            )
        return landed

    def rerelay_since(self, cutoff: datetime) -> int:
        landed, last_id = 0, 0
        while True:
            with self.db.unit_of_work() as session:
                rows = session.execute(
                    select(self.model.id, self.model.body)
                    .where(self.model.published_at >= cutoff, self.model.id > last_id)
                    .order_by(self.model.id)
                    .limit(self.batch)
                ).all()
            if not rows:
                return landed
            for row_id, body in rows:
                if self.publisher.publish(Envelope.from_json(body)) is not None:
                    landed += 1
                last_id = row_id

    def step(self, poll_s: float = 0.2) -> float | None:
        """One turn of the relay loop: check the Redis instance (at most once a second), relay a batch."""
        now = time.monotonic()
        if now - self._run_id_checked >= 1.0:
            self.rerelay_if_redis_restarted()
            self._run_id_checked = now
        return poll_s if self.relay_once() == 0 else None

    def run_forever(
        self,
        poll_s: float = 0.2,
        should_stop: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        run_resilient(lambda: self.step(poll_s), self.health, should_stop, sleep=sleep)
