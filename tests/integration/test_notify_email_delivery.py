"""Welcome emails end to end: a real Celery worker process sends them to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select, update

from services.notify import service
from services.notify.adapters.orm import Email
from services.notify.consumers import handlers
from services.notify.domain import rules
from services.notify.smtp_sink import start as start_smtp_sink
from services.notify.tasks import QUEUE, SWEEP_UNSENT
from shared.events import Envelope, UserRegistered, utcnow
from tests.support.processes import Process, celery_worker, free_port, service_env, wait_until

pytestmark = pytest.mark.integration


def registered(user_id: int) -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=f"user{user_id}@example.org",
        display_name=f"Person {user_id}",
        organisation="Org A",
        region="North",
        roles=["attendee"],
    ).envelope()


def mails(directory: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(directory.glob("*.eml"))
    ]


def mails_to(directory: Path, address: str) -> list[EmailMessage]:
    return [m for m in mails(directory) if m["X-RcptTo"] == address]


def email_row(app: Flask, user_id: int) -> Email:
    with app.extensions["db"].unit_of_work() as session:
        return session.scalars(select(Email).where(Email.to_address == f"user{user_id}@example.org")).one()


class Stack:
    """The notify app in this process, its worker in another, and an SMTP sink writing .eml files."""

    def __init__(self, app: Flask, env: dict[str, str], log_dir: Path) -> None:
        self.app, self.env, self.log_dir = app, env, log_dir
        self.mail_dir = log_dir / "mail"
        self.workers: list[Process] = []

    def start_worker(self) -> None:
        self.workers.append(celery_worker("notify", self.env, self.log_dir, name=f"w{len(self.workers) + 1}"))

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def deliver(self, envelope: Envelope) -> None:
        handlers(self.app)[envelope.type](envelope)  # what the bus consumer does for this event

    def wait_for_mail(self, user_id: int) -> EmailMessage:
        address = f"user{user_id}@example.org"
        wait_until(lambda: mails_to(self.mail_dir, address), timeout=60, what=f"mail to {address}\n{self.log()}")
        return mails_to(self.mail_dir, address)[0]

    def wait_until_sent(self, user_id: int) -> Email:
        def sent() -> Email | None:
            row = email_row(self.app, user_id)
            return row if row.status == rules.SENT else None

        return wait_until(sent, what=f"email to user {user_id} marked sent")  # type: ignore[return-value]

    def assert_no_second_mail(self, user_id: int, sentinel_user: int) -> None:
        """One worker process takes one task at a time, in order: once a mail queued after everything else has
        arrived, a duplicate of an earlier one would have arrived too."""
        self.deliver(registered(sentinel_user))
        self.wait_for_mail(sentinel_user)
        assert len(mails_to(self.mail_dir, f"user{user_id}@example.org")) == 1

    def log(self) -> str:
        return "\n".join(w.output()[-3000:] for w in self.workers)


@pytest.fixture
def stack_factory(make_app, redis_url: str, service_environment: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    stacks: list[Stack] = []

    def factory(smtp_port: int, *, start_worker: bool = True) -> Stack:
        app = make_app("notify")  # migrates the SQLite file the worker will use too (same VAR_DIR)
        env = service_env(redis_url, service_environment, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port))
        stack = Stack(app, env, tmp_path)
        stacks.append(stack)
        if start_worker:
            stack.start_worker()
        return stack

    yield factory
    for stack in stacks:
        stack.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Controller]:
    controller = start_smtp_sink("127.0.0.1", free_port(), tmp_path / "mail")
    yield controller
    controller.stop()


def test_the_worker_delivers_the_welcome_email(stack_factory, smtp_server: Controller) -> None:  # type: ignore[no-untyped-def]
    stack: Stack = stack_factory(smtp_server.port)
    event = registered(1)
    stack.deliver(event)
    mail = stack.wait_for_mail(1)

    row = stack.wait_until_sent(1)
    assert mail["To"] == "user1@example.org" and mail["X-RcptTo"] == "user1@example.org"
    assert mail["From"] == "Insight Days <no-reply@insightdays.local>"
    assert mail["Subject"] == "Welcome to Insight Days, Person 1"
    assert mail["Message-ID"] == f"<notify-email-{row.id}@insightdays.local>" == row.message_id
    assert "Hello Person 1," in mail.get_content()
    assert row.attempts == 1 and row.sent_at is not None

    # A redelivered task and a redelivered event send nothing more.
    stack.app.extensions["celery"].send_task("notify.send_email", args=[row.id], queue=QUEUE)
    stack.deliver(event)
    stack.assert_no_second_mail(user_id=1, sentinel_user=2)
    assert email_row(stack.app, 1).attempts == 1


def test_an_smtp_server_down_at_first_still_gets_the_email_once(stack_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens here yet
    stack: Stack = stack_factory(port)
    stack.deliver(registered(1))
    failed = wait_until(lambda: email_row(stack.app, 1).last_error, what=f"a failed try\n{stack.log()}")
    assert "Connection refused" in str(failed)
    assert mails(stack.mail_dir) == []

    controller = start_smtp_sink("127.0.0.1", port, stack.mail_dir)  # the server comes up
    try:
        mail = stack.wait_for_mail(1)
        row = stack.wait_until_sent(1)
        assert mail["Message-ID"] == row.message_id
        assert row.attempts >= 2 and row.last_error is None
        stack.assert_no_second_mail(user_id=1, sentinel_user=2)
    finally:
        controller.stop()


def test_the_sweep_sends_emails_whose_enqueue_or_worker_was_lost(stack_factory, smtp_server: Controller) -> None:  # type: ignore[no-untyped-def]
    stack: Stack = stack_factory(smtp_server.port, start_worker=False)
    redis = stack.app.extensions["redis"]
    stack.deliver(registered(1))
    stack.deliver(registered(2))
    assert redis.llen(QUEUE) == 2
    redis.delete(QUEUE)  # the enqueues are lost, as if the process died right after its commit
    lost_enqueue, killed_mid_send = email_row(stack.app, 1).id, email_row(stack.app, 2).id
    past = utcnow() - rules.ENQUEUE_GRACE
    with stack.app.extensions["db"].unit_of_work() as session:
        session.execute(update(Email).where(Email.id == lost_enqueue).values(lease_until=past))
        # A worker claimed this one and died: its lease ran out.
        session.execute(
            update(Email).where(Email.id == killed_mid_send).values(status=rules.SENDING, lease_until=past, attempts=1)
        )

    stack.start_worker()
    stack.app.extensions["celery"].send_task(SWEEP_UNSENT, queue=QUEUE)  # what beat does every 30 s
    for user_id in (1, 2):
        assert stack.wait_for_mail(user_id)["Subject"] == f"Welcome to Insight Days, Person {user_id}"
    assert stack.wait_until_sent(2).attempts == 2
    stack.assert_no_second_mail(user_id=1, sentinel_user=3)
    assert len(mails_to(stack.mail_dir, "user2@example.org")) == 1


def test_a_worker_killed_in_the_middle_of_a_fan_out_loses_no_email(stack_factory, smtp_server: Controller) -> None:  # type: ignore[no-untyped-def]
    """kill -9 the whole worker (main process and pool) while it sends 100 welcomes, start another, let the sweep
    run as beat would once the dead worker's lease has run out: every email arrives, each row is sent once."""
    stack: Stack = stack_factory(smtp_server.port)
    total = 100
    for user_id in range(1, total + 1):
        stack.deliver(registered(user_id))
    wait_until(lambda: len(mails(stack.mail_dir)) >= 20, timeout=60, what=f"the fan-out under way\n{stack.log()}")
    stack.workers[0].kill(signal.SIGKILL)
    sent_before_kill = len(mails(stack.mail_dir))

    stack.start_worker()
    db = stack.app.extensions["db"]

    def statuses() -> dict[str, int]:
        with db.unit_of_work() as session:
            return dict(session.execute(select(Email.status, func.count()).group_by(Email.status)).all())

    # The new worker drains the queue (no change for 1.5 s); what the dead one held (claimed, or prefetched and
    # lost with it) stays.
    seen: list[dict[str, int]] = []
    wait_until(
        lambda: seen.append(statuses()) or (len(seen) > 3 and seen[-1] == seen[-4]),
        timeout=120,
        interval=0.5,
        what=f"the new worker to go idle\n{stack.log()}",
    )
    # Beat's sweep, as it runs once the dead worker's lease (2 min) has run out.
    later = utcnow() + rules.SEND_LEASE + timedelta(seconds=1)
    for email_id in service.requeue_unheld_emails(db, later):
        stack.app.extensions["celery"].send_task("notify.send_email", args=[email_id], queue=QUEUE)
    def settled() -> bool:
        now = statuses()
        return now.get(rules.SENT, 0) + now.get(rules.UNCERTAIN, 0) == total

    wait_until(settled, timeout=60, what=f"all {total} sent or uncertain\n{stack.log()}")
    final = statuses()
    with db.unit_of_work() as session:
        sent_to = set(session.scalars(select(Email.to_address).where(Email.status == rules.SENT)))
    recipients = [m["X-RcptTo"] for m in mails(stack.mail_dir)]
    duplicates = len(recipients) - len(set(recipients))
    print(f"fan-out drill: {sent_before_kill} sent before the kill, {duplicates} sent twice, {final} at the end")
    # Every mail marked sent arrived; one the dead worker had begun DATA for is `uncertain` (maybe arrived) and
    # never sent again automatically, so no mail arrives twice.
    assert sent_to <= set(recipients)
    assert final.get(rules.UNCERTAIN, 0) <= 1
    assert duplicates == 0
