"""Bounded growth: trim the event stream and the dead letters, purge old outbox and processed-event rows.

The stream is trimmed by MINID below what every consumer group still needs (its oldest pending entry and its
last-delivered position) and never inside the retention window, so a slow or restarting service loses nothing.
The outbox keeps published rows for `outbox_retention_s` (a Redis that lost its data gets them again), and the
inbox keeps applied event ids for longer, so every row that can be re-sent is still recognised as applied.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import Table, delete, select

from shared.bus import DEAD_LETTER_SUFFIX
from shared.config import BusSettings
from shared.db import Database
from shared.events import utcnow

log = logging.getLogger(__name__)


def _stream_id(raw: str) -> tuple[int, int]:
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)


def safe_trim_id(client: redis.Redis, stream: str, retention_s: float, now_ms: int | None = None) -> str:
    """The lowest stream id that must be kept: min(retention floor, each group's oldest pending entry and
    last-delivered id + 1). Entries below it are old and every group is done with them."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    keep = [(now_ms - int(retention_s * 1000), 0)]
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream: nothing to trim
        groups = []
    for group in groups:
        last = _stream_id(str(group["last-delivered-id"]))
        keep.append((last[0], last[1] + 1))
        if int(group.get("pending", 0)):
            oldest = client.xpending(stream, group["name"])["min"]
            if oldest:
                keep.append(_stream_id(str(oldest)))
    lowest = min(keep)
    return f"{max(lowest[0], 0)}-{lowest[1]}"


def trim_stream(client: redis.Redis, stream: str, retention_s: float, *, approximate: bool = True) -> int:
    """Trim entries every group is done with and older than the retention window; returns how many went."""
    if not client.exists(stream):
        return 0
    return _trim_to(client, stream, safe_trim_id(client, stream, retention_s), approximate)


def _trim_to(client: redis.Redis, stream: str, minid: str, approximate: bool) -> int:
    # An approximate XTRIM removes at most 10,000 entries per call (Redis's default LIMIT), which keeps each
    # call short; repeat until nothing more goes.
    removed = 0
    for _ in range(10_000):
        step = int(client.xtrim(stream, minid=minid, approximate=approximate))
        removed += step
        if step == 0 or not approximate:
            break
    return removed


def trim_dead_letters(client: redis.Redis, dead_stream: str, retention_s: float, *, approximate: bool = True) -> int:
    if not client.exists(dead_stream):
        return 0
    floor_ms = int(time.time() * 1000) - int(retention_s * 1000)
    return _trim_to(client, dead_stream, f"{max(floor_ms, 0)}-0", approximate)


def purge_rows(db: Database, table: Table, time_column: str, older_than_s: float, batch: int = 1000) -> int:
    """Delete rows whose `time_column` is older than the cutoff, a batch per transaction (short write locks)."""
    column = table.c[time_column]
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    key = next(iter(table.primary_key.columns))
    removed = 0
    while True:
        with db.unit_of_work() as session:
            ids = session.scalars(select(key).where(column.is_not(None), column < cutoff).limit(batch)).all()
            if not ids:
                return removed
            session.execute(delete(table).where(key.in_(ids)))
        removed += len(ids)


@dataclass
class Housekeeping:
    """One service's share of the clean-up; every bus process runs it (trimming twice is harmless)."""

    client: redis.Redis
    db: Database
    outbox_model: type[Any]
    stream: str
    settings: BusSettings

    def run_once(self) -> dict[str, int]:
        tables = self.outbox_model.metadata.tables
        done = {
            "stream_trimmed": trim_stream(self.client, self.stream, self.settings.stream_retention_s),
            "dead_letters_trimmed": trim_dead_letters(
                self.client, self.stream + DEAD_LETTER_SUFFIX, self.settings.dead_letter_retention_s
            ),
            "outbox_purged": purge_rows(self.db, tables["outbox"], "published_at", self.settings.outbox_retention_s),
            "processed_purged": purge_rows(
                self.db, tables["processed_events"], "processed_at", self.settings.inbox_retention_s
            ),
        }
        if any(done.values()):
            log.info("bus housekeeping", extra=done)
        return done
