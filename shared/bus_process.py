"""A service's bus process: the outbox relay and the event consumer, side by side, until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import redis
from flask import Flask

from shared.bus import Consumer, Handler, heartbeat_key
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)


def run_bus_process(app: Flask, outbox_model: type[Any], handlers: dict[str, Handler] | None) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    relay = OutboxRelay(app.extensions["db"], outbox_model, app.extensions["publisher"])
    threads = [
        threading.Thread(target=relay.run_forever, kwargs={"should_stop": stop.is_set}, daemon=True),
        threading.Thread(target=_heartbeat, args=(app, stop), daemon=True),
    ]
    consumer: Consumer | None = None
    if handlers:
        consumer = Consumer(app.extensions["redis"], app.config["SERVICE"], handlers)
        threads.append(threading.Thread(target=_consume, args=(app, consumer), daemon=True))
    for t in threads:
        t.start()
    log.info("bus process running", extra={"service": app.config["SERVICE"], "consuming": bool(handlers)})
    stop.wait()
    if consumer:
        consumer.stop()
    for t in threads:
        t.join(timeout=5)


def _heartbeat(app: Flask, stop: threading.Event, every_s: float = 10.0) -> None:
    """A key with a TTL that the compose healthcheck (shared.probe) looks for."""
    key = heartbeat_key(app.config["SERVICE"])
    while not stop.is_set():
        try:
            app.extensions["redis"].set(key, "1", ex=int(every_s * 4))
        except redis.ConnectionError:
            pass
        stop.wait(every_s)


def _consume(app: Flask, consumer: Consumer) -> None:
    with app.app_context():
        consumer.run_forever()
