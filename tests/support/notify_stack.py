"""The notify service for integration tests, one per test module: the app in this process (its handlers are what
the bus consumer runs), real Celery worker processes, a real SMTP sink counting mails by Message-ID."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from services.notify.adapters.orm import Email, Notification
from services.notify.consumers import handlers
from shared.db import migrate
from shared.events import Envelope, EventCreated, UserRegistered
from tests.support.mail_sink import MailSink, Received
from tests.support.processes import Process, RedisServer, celery_worker, service_env, wait_until


def registered(user_id: int, name: str | None = None, email: str | None = None) -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=email or f"user{user_id}@example.org",
        display_name=name or f"Person {user_id}",
        organisation="Org A",
        region="North",
        roles=["attendee"],
    ).envelope()


def day_created(event_id: int, title: str = "Health data day", timezone: str = "Europe/Berlin") -> Envelope:
    return EventCreated(
        event_id=event_id,
        title=title,
        starts_at="2027-03-28T07:00:00+00:00",
        ends_at="2027-03-28T17:00:00+00:00",
        timezone=timezone,
        organiser_id=1000,
        revision=1,
    ).envelope()


class NotifyStack:
    def __init__(self, app: Flask, env: dict[str, str], log_dir: Path, sink: MailSink) -> None:
        self.app, self.env, self.log_dir, self.sink = app, env, log_dir, sink
        self.workers: list[Process] = []
        self._handlers = handlers(app)

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.app.extensions["db"]

    def start_worker(self, **extra_env: str) -> Process:
        worker = celery_worker("notify", {**self.env, **extra_env}, self.log_dir, name=f"w{len(self.workers) + 1}")
        self.workers.append(worker)
        return worker

    def deliver(self, envelope: Envelope) -> None:
        self._handlers[envelope.type](envelope)  # what the bus consumer does for this event

    def log(self) -> str:
        return "\n".join(w.output()[-3000:] for w in self.workers)

    def wait_for_mails(self, address: str, count: int, timeout: float = 60) -> list[Received]:
        wait_until(
            lambda: len(self.sink.handler.to(address)) >= count,
            timeout=timeout,
            what=f"{count} mails to {address}\n{self.log()}",
        )
        return self.sink.handler.to(address)

    def emails(self, address: str) -> list[Email]:
        with self.db.unit_of_work() as session:
            return list(session.scalars(select(Email).where(Email.to_address == address).order_by(Email.id)))

    def notifications(self, user_id: int) -> list[Notification]:
        with self.db.unit_of_work() as session:
            return list(
                session.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id))
            )

    def stop_workers(self) -> None:
        self.stop()
        self.workers.clear()

    def stop(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.stop()


@contextmanager
def notify_stack(redis_server: RedisServer, directory: Path, *, worker: bool = True) -> Iterator[NotifyStack]:
    """A module's notify stack on the session's redis-server (flushed once, here)."""
    redis_server.client().flushall()
    var_dir = directory / "var"
    sink = MailSink().start()
    env = service_env(redis_server.url, var_dir, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port), RATE_LIMITS="on")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("APP_ENV", "REDIS_URL", "VAR_DIR", "SMTP_HOST", "SMTP_PORT", "RATE_LIMITS"):
            mp.setenv(name, env[name])
        mp.delenv("NOTIFY_DATABASE_URL", raising=False)
        for name in [k for k in os.environ if k.startswith("NOTIFY_TEST_")]:
            mp.delenv(name)
        from services.notify import create_app

        app = create_app()
        migrate("notify", app.config["DATABASE_URL"])
        stack = NotifyStack(app, env, directory, sink)
        if worker:
            stack.start_worker()
        try:
            yield stack
        finally:
            stack.stop()
            sink.stop()
            app.extensions["db"].dispose()
