"""What keeps long-running loops alive: which errors are transient, capped backoff, and progress tracking.

A loop (outbox relay, consumer, heartbeat, housekeeping) must never end because of an error: it logs, backs off
and goes on. `LoopHealth` records when it last iterated and when it last succeeded, so the heartbeat can stop
reporting healthy when a loop makes no progress, and a watchdog can end a process whose loop hangs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# Redis answers with these prefixes while it cannot serve writes for a while (memory full, replica after a
# failover, loading its data, cluster reconfiguring); they clear by themselves.
_TRANSIENT_REDIS_REPLIES = ("OOM", "READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY ")


def is_transient(exc: BaseException) -> bool:
    """True when the error says a dependency (Redis, the database, the broker) is briefly unavailable,
    not that this piece of work is wrong. Looks through the exception's causes too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_transient_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_transient_one(exc: BaseException) -> bool:
    # redis.ConnectionError covers BusyLoadingError; TimeoutError is a sibling, not a subclass.
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | redis.ReadOnlyError):
        return True
    if isinstance(exc, redis.ResponseError):
        return str(exc).startswith(_TRANSIENT_REDIS_REPLIES)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # OperationalError: server gone, connection refused, SQLite "database is locked"; TimeoutError: pool empty.
    if isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if _is_broker_error(exc):
        return True
    return isinstance(exc, ConnectionError | TimeoutError)


def _is_broker_error(exc: BaseException) -> bool:
    try:
        from kombu.exceptions import OperationalError as KombuOperationalError
    except ImportError:  # pragma: no cover - kombu comes with celery
        return False
    return isinstance(exc, KombuOperationalError)


def is_nogroup(exc: BaseException) -> bool:
    """The stream or the consumer group is gone (a Redis that lost its data, or the stream deleted while a
    read was blocked on it: UNBLOCKED): recreate the group."""
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(("NOGROUP", "UNBLOCKED"))


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter (spreads the retries of many processes after an outage)."""

    base_s: float = 0.2
    cap_s: float = 10.0
    attempts: int = 0

    def next_delay(self) -> float:
        self.attempts += 1
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempts, 16))
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class LoopHealth:
    """Progress of one loop: `iterated` on every turn, `succeeded` on every turn that did its work."""

    name: str
    clock: Callable[[], float] = time.monotonic
    expected_pause_s: float = 0.0  # a periodic loop sleeps this long between turns by design
    last_iteration: float = field(default=0.0)
    last_success: float = field(default=0.0)
    last_error: str | None = None
    errors: int = 0

    def __post_init__(self) -> None:
        now = self.clock()
        self.last_iteration = self.last_success = now
        self._lock = threading.Lock()

    def iterated(self) -> None:
        with self._lock:
            self.last_iteration = self.clock()

    def succeeded(self) -> None:
        with self._lock:
            self.last_iteration = self.last_success = self.clock()
            self.last_error = None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.last_iteration = self.clock()
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.errors += 1

    def stalled(self, after_s: float) -> bool:
        """No successful turn for `after_s`: the loop is alive but not getting its work done."""
        return self.clock() - self.last_success > after_s + self.expected_pause_s

    def hung(self, after_s: float) -> bool:
        """Not even a failed turn for `after_s`: the loop is stuck inside a call."""
        return self.clock() - self.last_iteration > after_s + self.expected_pause_s

    def snapshot(self) -> dict[str, object]:
        now = self.clock()
        with self._lock:
            return {
                "since_success_s": round(now - self.last_success, 1),
                "since_iteration_s": round(now - self.last_iteration, 1),
                "errors": self.errors,
                "last_error": self.last_error,
            }


def run_resilient(
    step: Callable[[], float | None],
    health: LoopHealth,
    should_stop: Callable[[], bool],
    *,
    backoff: Backoff | None = None,
    sleep: Callable[[float], object] = time.sleep,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Call `step` until `should_stop()`; `step` returns how long to pause before the next turn (or None).

    Any exception is logged and followed by a capped, jittered pause; the loop itself never ends on an error.
    `on_error` lets the caller repair state (e.g. recreate a consumer group) before the next turn.
    """
    backoff = backoff or Backoff()
    while not should_stop():
        try:
            pause = step()
        except Exception as exc:  # noqa: BLE001 - this loop must survive anything; it logs and backs off
            health.failed(exc)
            delay = backoff.next_delay()
            log.warning(
                "loop error, retrying",
                extra={"loop": health.name, "error": f"{type(exc).__name__}: {exc}"[:500], "retry_in_s": delay},
            )
            if on_error is not None:
                try:
                    on_error(exc)
                except Exception as repair_exc:  # noqa: BLE001 - the repair is best-effort, the loop goes on
                    log.warning("loop repair failed", extra={"loop": health.name, "error": repr(repair_exc)})
            sleep(delay)
            continue
        health.succeeded()
        backoff.reset()
        if pause:
            sleep(pause)
