"""The dead-letter stream: what a consumer group gave up on, for an operator to read, replay or drop.

Every entry carries the original fields plus `group`, `reason`, `source_id` and `dead_at`. Replaying runs the
group's own handler on the event in the calling process (handlers are idempotent by event_id) and removes the
entry only when the handler succeeded, so a replay that fails again loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from shared.bus import DEAD_LETTER_SUFFIX, EVENTS_STREAM, Handler
from shared.events import Envelope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    group: str
    type: str
    event_id: str
    reason: str
    dead_at: str
    fields: dict[str, str]

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> DeadLetter:
        try:
            event_id = Envelope.from_json(fields.get("event", "")).event_id
        except (KeyError, ValueError, TypeError):
            event_id = "?"
        return cls(
            id=entry_id,
            group=fields.get("group", "?"),
            type=fields.get("type", "?"),
            event_id=event_id,
            reason=fields.get("reason", ""),
            dead_at=fields.get("dead_at", ""),
            fields=fields,
        )


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[str]
    failed: dict[str, str]  # dead-letter id -> error


class DeadLetters:
    def __init__(self, client: redis.Redis, stream: str = EVENTS_STREAM) -> None:
        self.client = client
        self.stream = stream + DEAD_LETTER_SUFFIX

    def entries(self, group: str | None = None, page: int = 500) -> Iterator[DeadLetter]:
        start = "-"
        while True:
            chunk = self.client.xrange(self.stream, min=start, max="+", count=page)
            for entry_id, fields in chunk:
                letter = DeadLetter.from_entry(entry_id, fields)
                if group is None or letter.group == group:
                    yield letter
            if len(chunk) < page:
                return
            start = "(" + chunk[-1][0]

    def counts(self) -> dict[str, int]:
        """Dead letters per consumer group (the stream is trimmed by age, so this stays a short scan)."""
        found: dict[str, int] = {}
        for letter in self.entries():
            found[letter.group] = found.get(letter.group, 0) + 1
        return found

    def drop(self, ids: list[str]) -> int:
        return int(self.client.xdel(self.stream, *ids)) if ids else 0

    def replay(self, letters: list[DeadLetter], handlers: dict[str, Handler]) -> ReplayResult:
        replayed: list[str] = []
        failed: dict[str, str] = {}
        for letter in letters:
            try:
                envelope = Envelope.from_json(letter.fields["event"])
                handler = handlers.get(envelope.type)
                if handler is None:
                    raise LookupError(f"this service has no handler for {envelope.type}")
                handler(envelope)
            except Exception as exc:  # noqa: BLE001 - report per entry; keep the entry
                failed[letter.id] = f"{type(exc).__name__}: {exc}"
                log.warning("dead letter replay failed", extra={"dead_letter": letter.id, "error": failed[letter.id]})
                continue
            self.client.xdel(self.stream, letter.id)
            replayed.append(letter.id)
        return ReplayResult(replayed, failed)
