"""Redis Streams event bus: publisher, consumer group reader, dead-letter stream.

Delivery is at-least-once: a handler that raises leaves its message pending; after `claim_idle_ms` any consumer
of the group (including a fresh one replacing a dead process) takes it over with XAUTOCLAIM and tries again.
After `max_deliveries` tries the message goes to the dead-letter stream, so one poison message cannot block
the group. Handlers must be idempotent by event_id (see `shared.inbox`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from shared.events import Envelope

log = logging.getLogger(__name__)

EVENTS_STREAM = "insightdays:events"
DEAD_LETTER_SUFFIX = ":dead"
PUBLISHED_KEY_TTL_S = 7 * 24 * 3600

# XADD at most once per event_id: a relay killed after publishing but before marking its outbox row
# publishes again on restart, and this script turns that second XADD into a no-op. Atomic in Redis.
_PUBLISH_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  return redis.call('XADD', KEYS[1], '*', 'event', ARGV[1], 'type', ARGV[2])
end
return false
"""


def heartbeat_key(service: str) -> str:
    return f"insightdays:heartbeat:bus:{service}"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


class Publisher:
    def __init__(self, client: redis.Redis, stream: str = EVENTS_STREAM) -> None:
        self.client = client
        self.stream = stream
        self._script = client.register_script(_PUBLISH_ONCE)

    def publish(self, envelope: Envelope) -> str | None:
        """XADD the envelope unless this event_id was already published; returns the stream id or None."""
        dedupe_key = f"{self.stream}:published:{envelope.event_id}"
        return self._script(
            keys=[self.stream, dedupe_key], args=[envelope.to_json(), envelope.type, PUBLISHED_KEY_TTL_S]
        )

    def publish_raw(self, envelope: Envelope) -> str:
        """Plain XADD without the at-most-once guard (benchmarks and tests of redelivery)."""
        return self.client.xadd(self.stream, {"event": envelope.to_json(), "type": envelope.type})


Handler = Callable[[Envelope], None]


@dataclass
class ConsumerStats:
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    ignored: int = 0


def default_consumer_name(group: str) -> str:
    return f"{group}-{socket.gethostname()}-{os.getpid()}"


class Consumer:
    """Reads one stream as one member of a consumer group and dispatches by event type."""

    def __init__(
        self,
        client: redis.Redis,
        group: str,
        handlers: dict[str, Handler],
        *,
        name: str | None = None,
        stream: str = EVENTS_STREAM,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1_000,
        batch: int = 50,
        use_autoclaim: bool = True,
    ) -> None:
        self.client = client
        self.group = group
        self.handlers = handlers
        self.name = name or default_consumer_name(group)
        self.stream = stream
        self.dead_letter_stream = stream + DEAD_LETTER_SUFFIX
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.batch = batch
        self.use_autoclaim = use_autoclaim  # XPENDING + XCLAIM instead, as on Redis < 6.2
        self.stats = ConsumerStats()
        self._stopping = False

    def ensure_group(self) -> None:
        try:
            # "0": a new group starts at the beginning so events published before it existed are not lost.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run_once(self, block_ms: int | None = None) -> int:
        """Reclaim stale pending messages, then read new ones; returns how many were processed."""
        processed = 0
        for message_id, fields in self._reclaim():
            self._process(message_id, fields, redelivered=True)
            processed += 1
        response = self.client.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            count=self.batch,
            block=self.block_ms if block_ms is None else block_ms,
        )
        for _stream, messages in response or []:
            for message_id, fields in messages:
                self._process(message_id, fields, redelivered=False)
                processed += 1
        return processed

    def run_forever(self) -> None:
        self.ensure_group()
        log.info("consumer started", extra={"group": self.group, "consumer": self.name})
        while not self._stopping:
            try:
                self.run_once()
            except redis.ConnectionError:
                # Redis restarting: wait and go on; pending messages stay in the PEL (AOF) and are reclaimed.
                log.warning("redis unavailable, retrying", extra={"group": self.group})
                time.sleep(1)
                self._ensure_group_quietly()

    def stop(self) -> None:
        self._stopping = True

    def _ensure_group_quietly(self) -> None:
        try:
            self.ensure_group()
        except redis.ConnectionError:
            pass

    def _reclaim(self) -> list[tuple[str, dict[str, str]]]:
        if self.use_autoclaim:
            try:
                return self._reclaim_with_xautoclaim()
            except redis.ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                self.use_autoclaim = False  # Redis < 6.2
        return self._reclaim_with_xclaim()

    def _reclaim_with_xautoclaim(self) -> list[tuple[str, dict[str, str]]]:
        claimed: list[tuple[str, dict[str, str]]] = []
        start = "0-0"
        while True:
            result = self.client.xautoclaim(
                self.stream, self.group, self.name, min_idle_time=self.claim_idle_ms, start_id=start, count=self.batch
            )
            start, messages = result[0], result[1]
            # Entries deleted from the stream come back as None; nothing to do but ack them away.
            claimed.extend((mid, f) for mid, f in messages if f is not None)
            if start == "0-0" or not messages:
                return claimed

    def _reclaim_with_xclaim(self) -> list[tuple[str, dict[str, str]]]:
        stale = self.client.xpending_range(
            self.stream, self.group, min="-", max="+", count=self.batch, idle=self.claim_idle_ms
        )
        if not stale:
            return []
        ids = [p["message_id"] for p in stale]
        messages = self.client.xclaim(self.stream, self.group, self.name, self.claim_idle_ms, ids)
        return [(mid, f) for mid, f in messages if f]

    def _deliveries(self, message_id: str) -> int:
        info = self.client.xpending_range(self.stream, self.group, message_id, message_id, 1)
        return int(info[0]["times_delivered"]) if info else 1

    def _process(self, message_id: str, fields: dict[str, str], *, redelivered: bool) -> None:
        if redelivered and self._deliveries(message_id) > self.max_deliveries:
            self._dead_letter(message_id, fields, "too many deliveries")
            return
        try:
            envelope = Envelope.from_json(fields["event"])
        except (KeyError, ValueError, TypeError) as exc:
            self._dead_letter(message_id, fields, f"malformed: {exc}")
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            self.stats.ignored += 1
            self.client.xack(self.stream, self.group, message_id)
            return
        try:
            handler(envelope)
        except Exception:
            self.stats.failed += 1
            log.exception("handler failed", extra={"event_id": envelope.event_id, "type": envelope.type})
            return  # stays pending; reclaimed after claim_idle_ms
        self.client.xack(self.stream, self.group, message_id)
        self.stats.handled += 1

    def _dead_letter(self, message_id: str, fields: dict[str, str], reason: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.dead_letter_stream, {**fields, "group": self.group, "reason": reason, "source_id": message_id})
        pipe.xack(self.stream, self.group, message_id)
        pipe.execute()
        self.stats.dead_lettered += 1
        log.error("dead-lettered", extra={"message_id": message_id, "group": self.group, "reason": reason})
