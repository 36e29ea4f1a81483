"""Redis Streams event bus: publisher, consumer group reader, dead-letter stream.

Delivery is at-least-once: a handler that raises leaves its message pending; after `claim_idle_ms` any consumer
of the group (including a fresh one replacing a dead process) takes it over with XAUTOCLAIM and tries again.
After `max_deliveries` failed tries the message goes to the dead-letter stream, so one poison message cannot
block the group; a failure caused by an outage of Redis or the database is not a try (the consumer waits the
outage out instead). Handlers must be idempotent by event_id (see `shared.inbox`). Needs Redis 6.2 or newer.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from shared.events import Envelope, utcnow
from shared.resilience import Backoff, LoopHealth, is_nogroup, is_transient, run_resilient

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
    # Timeouts so that a stalled Redis (CLIENT PAUSE, a network partition) ends a call with an error that the
    # loops handle, instead of hanging a thread forever; longer than the consumer's 1 s blocking read.
    return redis.Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_timeout=10, socket_connect_timeout=5
    )


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
Probe = Callable[[], object]

# XAUTOCLAIM (taking over a dead consumer's messages, a page at a time) arrived in Redis 6.2.
MIN_REDIS_VERSION = (6, 2)


def require_redis_version(client: redis.Redis) -> None:
    version = str(client.info("server")["redis_version"])
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_REDIS_VERSION:
        raise RuntimeError(f"Redis {version} is too old: the event bus needs Redis 6.2 or newer (XAUTOCLAIM)")


@dataclass
class ConsumerStats:
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    outage_waits: int = 0  # times a handler met a dependency outage and the consumer held still until it ended


def default_consumer_name(group: str) -> str:
    return f"{group}-{socket.gethostname()}-{os.getpid()}"


class Consumer:
    """Reads one stream as one member of a consumer group and dispatches by event type.

    A handler error counts as a failed delivery only when the consumer's dependencies are up. When a handler
    fails because Redis or the database is down, the consumer keeps that message, takes no new work, waits for
    the dependencies (`dependencies` probes plus a Redis PING) and tries the same message again: an outage
    never turns into dead letters.
    """

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
        reclaim_page: int = 50,
        dependencies: Sequence[Probe] = (),
        quick_retries: int = 2,
        health: LoopHealth | None = None,
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
        self.reclaim_page = reclaim_page
        self.dependencies = list(dependencies)
        self.quick_retries = quick_retries
        self.health = health or LoopHealth(f"consumer:{group}")
        self.stats = ConsumerStats()
        self._reclaim_cursor = "0-0"
        self._held: list[str] = []  # ids of the batch being processed
        self._stopping = threading.Event()

    def ensure_group(self) -> None:
        try:
            # "0": a new group starts at the beginning so events published before it existed are not lost.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run_once(self, block_ms: int | None = None) -> int:
        """Take over one page of stale pending messages, then read new ones; returns how many were processed."""
        processed = self._process_batch(self._reclaim_page(), redelivered=True)
        response = self.client.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            count=self.batch,
            block=self.block_ms if block_ms is None else block_ms,
        )
        for _stream, messages in response or []:
            processed += self._process_batch(messages, redelivered=False)
        return processed

    def _process_batch(self, messages: list[tuple[str, dict[str, str]]], *, redelivered: bool) -> int:
        # The whole batch is pending on this consumer until each message is acknowledged; while one waits out an
        # outage, `_keep_claim` keeps the rest of the batch ours too.
        self._held = [message_id for message_id, _fields in messages]
        done = 0
        for message_id, fields in messages:
            if self._stopping.is_set():
                break  # what is left stays pending and is taken over after claim_idle_ms
            self._process(message_id, fields, redelivered=redelivered)
            self._held.remove(message_id)
            done += 1
        self._held = []
        return done

    def run_forever(self) -> None:
        """Consume until `stop()`, surviving any error (logged, capped backoff); recreates a vanished group."""
        ready = False

        def step() -> None:
            nonlocal ready
            if not ready:
                require_redis_version(self.client)
                self.ensure_group()
                ready = True
                log.info("consumer started", extra={"group": self.group, "consumer": self.name})
            self.run_once()

        def repair(exc: BaseException) -> None:
            nonlocal ready
            if is_nogroup(exc):
                ready = False  # the stream or group vanished (Redis lost its data): recreate it next turn
                self._reclaim_cursor = "0-0"

        run_resilient(step, self.health, self._stopping.is_set, sleep=self._stopping.wait, on_error=repair)

    def stop(self) -> None:
        self._stopping.set()

    def _reclaim_page(self) -> list[tuple[str, dict[str, str]]]:
        # One page per turn, resuming where the last page ended: a large backlog of a dead consumer is taken over
        # gradually, interleaved with new messages, instead of in one storm.
        result = self.client.xautoclaim(
            self.stream,
            self.group,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id=self._reclaim_cursor,
            count=self.reclaim_page,
        )
        self._reclaim_cursor = result[0]
        # Entries trimmed from the stream come back as None (Redis 6.2) or in result[2] (7.0, already dropped
        # from the pending list); there is nothing to process.
        gone = [mid for mid, f in result[1] if f is None]
        if gone:
            self.client.xack(self.stream, self.group, *gone)
        return [(mid, f) for mid, f in result[1] if f is not None]

    def _deliveries(self, message_id: str) -> int:
        info = self.client.xpending_range(self.stream, self.group, message_id, message_id, 1)
        return int(info[0]["times_delivered"]) if info else 1

    def _process(self, message_id: str, fields: dict[str, str], *, redelivered: bool) -> None:
        if redelivered:
            deliveries = self._deliveries(message_id)
            if deliveries > self.max_deliveries:
                self._dead_letter(message_id, fields, f"failed {deliveries - 1} deliveries")
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
        if not self._handle(handler, envelope):
            self.stats.failed += 1
            return  # stays pending; reclaimed after claim_idle_ms, counted as a delivery
        self.client.xack(self.stream, self.group, message_id)
        self.stats.handled += 1

    def _handle(self, handler: Handler, envelope: Envelope) -> bool:
        """Run the handler; on an outage hold this message until the dependencies are back and retry it."""
        quick = 0
        while True:
            try:
                handler(envelope)
                return True
            except Exception as exc:  # noqa: BLE001 - a failed handler is logged and retried, never fatal
                extra = {"event_id": envelope.event_id, "type": envelope.type, "group": self.group}
                if not is_transient(exc) or self._stopping.is_set():
                    log.exception("handler failed", extra=extra)
                    return False
                if quick < self.quick_retries:  # a lock or a dropped connection usually clears at once
                    quick += 1
                    self._stopping.wait(0.1 * 2**quick)
                    continue
                if self._dependencies_ok():
                    log.exception("handler failed with dependencies up", extra=extra)
                    return False
                log.warning("dependencies down: holding the message, taking no new work", extra=extra)
                self.stats.outage_waits += 1
                self._wait_for_dependencies()
                quick = 0

    def _dependencies_ok(self) -> bool:
        try:
            self.client.ping()
            for probe in self.dependencies:
                probe()
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False
        return True

    def _wait_for_dependencies(self) -> None:
        backoff = Backoff(base_s=0.25, cap_s=5.0)
        while not self._stopping.is_set():
            self.health.iterated()  # alive, but not succeeding: the heartbeat turns unhealthy after a while
            self._keep_claim()
            # Renew the claim well within claim_idle_ms, however long the backoff has grown.
            self._stopping.wait(min(backoff.next_delay(), self.claim_idle_ms / 3000))
            if self._dependencies_ok():
                log.info("dependencies back: retrying the held message", extra={"group": self.group})
                return

    def _keep_claim(self) -> None:
        """Reset the held messages' idle time without counting a delivery (JUSTID), so no other consumer takes
        them over and bumps their delivery counts while this one is only waiting out an outage."""
        if not self._held:
            return
        try:
            self.client.xclaim(self.stream, self.group, self.name, 0, self._held, justid=True)
        except Exception:  # noqa: BLE001, S110 - Redis may be the dependency that is down
            pass

    def _dead_letter(self, message_id: str, fields: dict[str, str], reason: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.dead_letter_stream,
            {**fields, "group": self.group, "reason": reason, "source_id": message_id, "dead_at": utcnow().isoformat()},
        )
        pipe.xack(self.stream, self.group, message_id)
        pipe.execute()
        self.stats.dead_lettered += 1
        log.error("dead-lettered", extra={"message_id": message_id, "group": self.group, "reason": reason})
