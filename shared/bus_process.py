"""A service's bus process: outbox relay, event consumer and housekeeping side by side, until SIGTERM.

Every loop survives any error (shared.resilience). The heartbeat key that the health probe reads says "ok" only
while every loop has succeeded within `stall_s`; a watchdog ends the process when a loop has not even turned
within `hang_exit_s` (stuck inside a call), so a supervisor starts a fresh one.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from shared.bus import EVENTS_STREAM, Consumer, Handler, heartbeat_key
from shared.bus_housekeeping import Housekeeping
from shared.config import BusSettings, load_bus_settings
from shared.outbox import OutboxRelay
from shared.resilience import LoopHealth, run_resilient

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 5.0
HANG_EXIT_CODE = 70


class BusProcess:
    def __init__(
        self,
        app: Flask,
        outbox_model: type[Any],
        handlers: dict[str, Handler] | None,
        settings: BusSettings | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or load_bus_settings()
        self.stop_event = threading.Event()
        self.service = app.config["SERVICE"]
        redis_client = app.extensions["redis"]
        db = app.extensions["db"]
        self.relay = OutboxRelay(
            db,
            outbox_model,
            app.extensions["publisher"],
            rerelay_window_s=self.settings.rerelay_window_s,
            retention_s=self.settings.outbox_retention_s,
        )
        self.housekeeping = Housekeeping(redis_client, db, outbox_model, EVENTS_STREAM, self.settings)
        self.housekeeping_health = LoopHealth("housekeeping", expected_pause_s=self.settings.housekeeping_every_s)
        self.heartbeat_health = LoopHealth("heartbeat", expected_pause_s=HEARTBEAT_EVERY_S)
        self.consumer: Consumer | None = None
        if handlers:
            self.consumer = Consumer(
                redis_client,
                self.service,
                handlers,
                claim_idle_ms=self.settings.claim_idle_ms,
                max_deliveries=self.settings.max_deliveries,
                reclaim_page=self.settings.reclaim_page,
                dependencies=[db.ping],
            )
        self.loops: dict[str, LoopHealth] = {"relay": self.relay.health, "housekeeping": self.housekeeping_health}
        if self.consumer:
            self.loops["consumer"] = self.consumer.health
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        targets: dict[str, Callable[[], None]] = {
            "relay": lambda: self.relay.run_forever(should_stop=self.stop_event.is_set, sleep=self.stop_event.wait),
            "housekeeping": self._housekeeping,
            "heartbeat": self._heartbeat,
        }
        if self.consumer:
            targets["consumer"] = self._consume
        for name, target in targets.items():
            thread = threading.Thread(target=target, name=f"bus-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("bus process running", extra={"service": self.service, "consuming": bool(self.consumer)})

    def stop(self) -> None:
        self.stop_event.set()
        if self.consumer:
            self.consumer.stop()
        for thread in self.threads:
            thread.join(timeout=5)

    def healthy(self) -> tuple[bool, dict[str, object]]:
        loops = {name: health.snapshot() for name, health in self.loops.items()}
        stalled = [name for name, health in self.loops.items() if health.stalled(self.settings.stall_s)]
        dead = [t.name for t in self.threads if not t.is_alive()]
        return not stalled and not dead, {"stalled": stalled, "dead_threads": dead, "loops": loops}

    def watchdog_verdict(self) -> str | None:
        """Why the process should end, or None: a loop thread died, or a loop is stuck inside a call."""
        dead = [t.name for t in self.threads if not t.is_alive()]
        if dead and not self.stop_event.is_set():
            return f"loop threads ended: {', '.join(dead)}"
        hung = [name for name, h in self.loops.items() if h.hung(self.settings.hang_exit_s)]
        if self.heartbeat_health.hung(self.settings.hang_exit_s):
            hung.append("heartbeat")
        return f"loops stuck: {', '.join(hung)}" if hung else None

    def _consume(self) -> None:
        assert self.consumer is not None
        with self.app.app_context():
            self.consumer.run_forever()

    def _housekeeping(self) -> None:
        def step() -> float:
            self.housekeeping.run_once()
            return self.settings.housekeeping_every_s

        run_resilient(step, self.housekeeping_health, self.stop_event.is_set, sleep=self.stop_event.wait)

    def _heartbeat(self) -> None:
        """A key with a short TTL that `python -m shared.probe bus SERVICE` reads: {"ok": all loops progressing}."""
        key = heartbeat_key(self.service)
        client = self.app.extensions["redis"]

        def step() -> float:
            ok, detail = self.healthy()
            client.set(key, json.dumps({"ok": ok, "pid": os.getpid(), **detail}), px=int(HEARTBEAT_EVERY_S * 4000))
            if not ok:
                log.warning("bus unhealthy", extra={"service": self.service, **detail})
            return HEARTBEAT_EVERY_S

        run_resilient(step, self.heartbeat_health, self.stop_event.is_set, sleep=self.stop_event.wait)


def run_bus_process(app: Flask, outbox_model: type[Any], handlers: dict[str, Handler] | None) -> None:
    process = BusProcess(app, outbox_model, handlers)
    signal.signal(signal.SIGTERM, lambda *_: process.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: process.stop_event.set())
    process.start()
    while not process.stop_event.wait(HEARTBEAT_EVERY_S):
        verdict = process.watchdog_verdict()
        if verdict:
            # A thread stuck in a call cannot be interrupted from Python: end the process for a supervisor to
            # restart; whatever it held stays pending in Redis or unpublished in the outbox, so nothing is lost.
            log.critical("bus process exiting", extra={"service": process.service, "reason": verdict})
            logging.shutdown()
            os._exit(HANG_EXIT_CODE)
    process.stop()
