"""Which errors are transient, backoff caps, loop progress, and a loop that survives every kind of error."""

from __future__ import annotations

import sqlite3

import pytest
import redis
from sqlalchemy import exc as sa_exc

from shared.config import ConfigError, load_bus_settings
from shared.resilience import Backoff, LoopHealth, is_nogroup, is_transient, run_resilient


def _operational(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    "error",
    [
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        redis.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        redis.ReadOnlyError("READONLY You can't write against a read only replica."),
        redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        redis.ResponseError("MASTERDOWN Link with MASTER is down"),
        _operational("database is locked"),
        _operational("connection to server at 127.0.0.1 failed: Connection refused"),
        sa_exc.TimeoutError("QueuePool limit reached"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError("timed out"),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(e)[:20],
)
def test_outages_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad payload"),
        KeyError("project_id"),
        redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        LookupError("event 3 not known yet"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bugs_and_bad_data_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_wrapped_outage_is_still_transient() -> None:
    try:
        try:
            raise redis.TimeoutError("stalled")
        except redis.TimeoutError as inner:
            raise RuntimeError("handler gave up") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_kombu_broker_errors_are_transient() -> None:
    from kombu.exceptions import OperationalError

    assert is_transient(OperationalError("Error 111 connecting to 127.0.0.1:6379"))


def test_nogroup_and_unblocked_mean_recreate_the_group() -> None:
    assert is_nogroup(redis.ResponseError("NOGROUP No such key 'insightdays:events' or consumer group 'notify'"))
    assert is_nogroup(redis.ResponseError("UNBLOCKED the stream key no longer exists"))
    assert not is_nogroup(redis.ResponseError("BUSYGROUP Consumer Group name already exists"))


def test_backoff_grows_is_capped_and_resets() -> None:
    backoff = Backoff(base_s=0.1, cap_s=2.0)
    delays = [backoff.next_delay() for _ in range(30)]
    assert all(0 < d <= 2.0 for d in delays)
    assert max(delays[:2]) <= 0.4 < min(delays[-5:])  # grows, then stays near the cap
    backoff.reset()
    assert backoff.next_delay() <= 0.2


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_loop_health_tells_stalled_from_hung() -> None:
    clock = _Clock()
    health = LoopHealth("relay", clock=clock)
    clock.now += 30
    health.failed(redis.ConnectionError("down"))  # turning, but failing
    clock.now += 40
    assert health.stalled(60) and not health.hung(60)
    clock.now += 61
    assert health.hung(60)
    health.succeeded()
    assert not health.stalled(60) and not health.hung(60)
    assert health.snapshot()["errors"] == 1


def test_periodic_loops_may_pause_between_turns() -> None:
    clock = _Clock()
    health = LoopHealth("housekeeping", clock=clock, expected_pause_s=300)
    clock.now += 330
    assert not health.stalled(60)
    clock.now += 40
    assert health.stalled(60)


def test_run_resilient_survives_every_error_and_repairs() -> None:
    errors = [
        redis.TimeoutError("paused"),
        redis.ResponseError("NOGROUP gone"),
        _operational("database is locked"),
        RuntimeError("a bug"),
        MemoryError(),
    ]
    turns: list[str] = []
    repaired: list[str] = []
    slept: list[float] = []

    def step() -> None:
        if errors:
            raise errors.pop(0)
        turns.append("ok")

    health = LoopHealth("test")
    run_resilient(
        step,
        health,
        should_stop=lambda: len(turns) >= 3,
        sleep=slept.append,
        on_error=lambda exc: repaired.append(type(exc).__name__),
        backoff=Backoff(base_s=0.01, cap_s=0.05),
    )
    assert turns == ["ok", "ok", "ok"]
    assert repaired == ["TimeoutError", "ResponseError", "OperationalError", "RuntimeError", "MemoryError"]
    assert len(slept) == 5 and all(s <= 0.05 for s in slept)
    assert health.errors == 5 and health.last_error is None


def test_bus_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_CLAIM_IDLE_MS", "2000")
    monkeypatch.setenv("BUS_STALL_S", "5")
    settings = load_bus_settings()
    assert settings.claim_idle_ms == 2000 and settings.stall_s == 5.0
    monkeypatch.setenv("BUS_STALL_S", "soon")
    with pytest.raises(ConfigError, match="BUS_STALL_S"):
        load_bus_settings()
    monkeypatch.setenv("BUS_STALL_S", "5")
    monkeypatch.setenv("BUS_INBOX_RETENTION_S", "60")
    with pytest.raises(ConfigError, match="INBOX"):
        load_bus_settings()
