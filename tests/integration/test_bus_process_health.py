"""The bus process's health: the heartbeat turns unhealthy while a loop makes no progress and healthy again
when it recovers; the watchdog names a dead or stuck loop (the process then exits for a supervisor)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from services.notify.consumers import handlers
from shared import bus_process
from shared.bus import heartbeat_key
from shared.bus_process import BusProcess
from shared.config import BusSettings
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def process(make_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[BusProcess]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bus_process, "HEARTBEAT_EVERY_S", 0.2)
    app: Flask = make_app("notify")
    from services.notify.adapters.orm import Outbox

    settings = BusSettings(stall_s=1.0, hang_exit_s=2.0, claim_idle_ms=1000)
    process = BusProcess(app, Outbox, handlers(app), settings)
    process.start()
    yield process
    process.stop()


def _beat(process: BusProcess) -> dict:  # type: ignore[type-arg]
    raw = process.app.extensions["redis"].get(heartbeat_key("notify"))
    return json.loads(raw) if raw else {}


def test_heartbeat_fails_while_the_relay_cannot_work_and_recovers(process: BusProcess) -> None:
    wait_until(lambda: _beat(process).get("ok") is True, timeout=10, what="a healthy heartbeat")
    db = process.app.extensions["db"]
    with db.engine.begin() as conn:  # the relay's table is gone: every turn fails (a broken database)
        conn.execute(text("ALTER TABLE outbox RENAME TO outbox_away"))
    try:
        wait_until(lambda: _beat(process).get("stalled") == ["relay"], timeout=10, what="the relay reported stalled")
        assert _beat(process)["ok"] is False
        assert "outbox" in _beat(process)["loops"]["relay"]["last_error"]
        assert all(t.is_alive() for t in process.threads)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE outbox_away RENAME TO outbox"))
    wait_until(lambda: _beat(process).get("ok") is True, timeout=10, what="healthy again")
    assert process.watchdog_verdict() is None


def test_watchdog_names_a_stuck_loop(process: BusProcess) -> None:
    wait_until(lambda: _beat(process).get("ok") is True, timeout=10, what="a healthy heartbeat")
    process.relay.health.last_iteration = time.monotonic() - 10  # as if stuck inside a call for 10 s
    process.relay.health.last_success = time.monotonic() - 10
    assert process.watchdog_verdict() == "loops stuck: relay"
