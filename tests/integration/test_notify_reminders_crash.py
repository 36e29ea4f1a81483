"""Reminders survive a worker and beat killed mid-scan and a Redis crash: every reminder is mailed exactly once,
counted by Message-ID at a real aiosmtpd sink (real redis-server, real Celery worker and beat processes)."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from services.notify.adapters.orm import Recipient
from services.notify.calendar.models import CalendarEntry
from services.notify.reminders.models import PENDING, SENT, SKIPPED, Reminder
from services.notify.smtp_sink import start as start_smtp_sink
from shared.events import utcnow
from tests.support.processes import Process, RedisServer, celery_worker, free_port, service_env, wait_until

pytestmark = pytest.mark.integration

PEOPLE = 200  # enough that one scan takes a while: the kill lands while some are sent and some still pending


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """This test's own Redis (it is crashed on purpose), with AOF as in production."""
    server = RedisServer(tmp_path / "redis", appendfsync="everysec")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Controller]:
    controller = start_smtp_sink("127.0.0.1", free_port(), tmp_path / "mail")
    yield controller
    controller.stop()


def beat(env: dict[str, str], log_dir: Path, name: str) -> Process:
    args = [str(Path(env["PATH"].split(":")[0]) / "celery"), "-A", "services.notify.worker", "beat"]
    return Process(
        f"celery-beat-{name}", [*args, "--loglevel", "INFO", "-s", str(log_dir / "beat-schedule")], env, log_dir
    )


def mails(directory: Path) -> list:  # type: ignore[type-arg]
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(directory.glob("*.eml"))]


def counts(app: Flask) -> dict[str, int]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()
        return {status: n for status, n in rows}


def test_worker_and_beat_killed_mid_scan_and_redis_crash_lose_none_and_send_none_twice(  # type: ignore[no-untyped-def]
    make_app, service_environment: Path, own_redis: RedisServer, sink: Controller, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    app = make_app("notify")
    # Each person has a chat starting in 14 minutes: the 15-minute reminder is due now (the 1-day one is
    # superseded), so every person must get exactly one reminder mail.
    starts_at = utcnow() + timedelta(minutes=14)
    with app.extensions["db"].unit_of_work() as session:
        for user_id in range(1, PEOPLE + 1):
            session.add(Recipient(user_id=user_id, email=f"user{user_id}@example.org", display_name=f"P{user_id}"))
            session.add(
                CalendarEntry(
                    user_id=user_id,
                    kind="chat",
                    subject_id=f"room-{user_id}",
                    event_id=1,
                    title=f"Chat {user_id}",
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=15),
                    timezone="Europe/Berlin",
                    created_at=utcnow() - timedelta(days=3),
                )
            )
    env = service_env(
        own_redis.url, service_environment, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port), REMINDER_SCAN_S="1"
    )
    log_dir = tmp_path
    worker, scheduler = celery_worker("notify", env, log_dir, name="w1"), beat(env, log_dir, "1")
    processes = [worker, scheduler]
    try:
        # Kill both as soon as the scan is half-way: some reminders sent, others still pending.
        mid = wait_until(
            lambda: (c := counts(app)).get(SENT, 0) > 0 and c.get(PENDING, 0) > 0 and c,
            timeout=90,
            interval=0.01,
            what=f"a scan half-way\n{worker.output()[-3000:]}\n{scheduler.output()[-2000:]}",
        )
        worker.kill(signal.SIGKILL)
        scheduler.kill(signal.SIGKILL)
        own_redis.restart()  # kill -9: only the AOF brings queued tasks back
        print(f"killed mid-scan at {mid}")  # noqa: T201 - shown with -s, the numbers for the report

        worker, scheduler = celery_worker("notify", env, log_dir, name="w2"), beat(env, log_dir, "2")
        processes += [worker, scheduler]
        mail_dir = tmp_path / "mail"
        wait_until(
            lambda: len(mails(mail_dir)) >= PEOPLE,
            timeout=240,
            interval=0.5,
            what=f"{PEOPLE} reminder mails (have {len(mails(mail_dir))})\n{worker.output()[-3000:]}",
        )
        assert counts(app) == {SENT: PEOPLE, SKIPPED: PEOPLE}, counts(app)  # the 1-day ones: superseded
        # Scans keep running every second: after several more, still exactly one mail per person.
        scans_before = worker.output().count("notify.scan_due_reminders")
        wait_until(lambda: worker.output().count("notify.scan_due_reminders") >= scans_before + 6, timeout=60)
        received = mails(mail_dir)
        by_id = Counter(m["Message-ID"] for m in received)
        by_person = Counter(m["X-RcptTo"] for m in received)
        assert len(received) == PEOPLE and len(by_id) == PEOPLE, by_id.most_common(3)
        assert set(by_person.values()) == {1} and len(by_person) == PEOPLE
        assert all(m["Subject"].startswith("Reminder: Chat ") for m in received)
    finally:
        for process in processes:
            process.stop()
