"""Exactly-once effect of a mail under a real SIGKILL of the real Celery worker, counted at a real SMTP server
(aiosmtpd) by Message-ID.

The worker commits the phase of each attempt before the step it names: "connecting" before it opens the SMTP
connection, "data" before DATA. A worker held (test seam NOTIFY_TEST_PAUSE_*_SMTP_S) and killed in either window:

(a) after the server accepted the mail, before "sent" was committed -> the row becomes `uncertain`, never resent
    automatically: 0 duplicates (organisers see it and may resend);
(b) before connecting -> the row is safely sent again: delivered exactly once after the restart;
(c) a fan-out batch (several mails on one connection) killed after its first mail was accepted -> that one is
    uncertain, each of the others is delivered exactly once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from services.notify import service
from services.notify.adapters.orm import Email
from services.notify.domain import rules
from services.notify.tasks import QUEUE, SEND_EMAIL, SWEEP_UNSENT
from shared.events import CoffeePaired, utcnow
from tests.conftest import identity_headers
from tests.support.notify_stack import NotifyStack, notify_stack, registered
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration

PAUSE = "30"  # seconds the held worker would wait; it is killed long before


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotifyStack]:
    with notify_stack(redis_server, tmp_path_factory.mktemp("notify-exactly-once"), worker=False) as stack:
        yield stack


def row(stack: NotifyStack, address: str) -> Email:
    emails = stack.emails(address)
    assert len(emails) == 1
    return emails[0]


def after_the_lease(stack: NotifyStack, email_id: int) -> None:
    """What time does for a dead worker's row: its lease runs out (instead of waiting SEND_LEASE)."""
    with stack.db.unit_of_work() as session:
        session.execute(update(Email).where(Email.id == email_id).values(lease_until=utcnow() - timedelta(seconds=1)))


def sweep_and_redeliver(stack: NotifyStack, email_id: int) -> None:
    """Both ways a row gets another go: beat's sweep, and the broker redelivering the killed task."""
    celery = stack.app.extensions["celery"]
    celery.send_task(SWEEP_UNSENT, queue=QUEUE)
    celery.send_task(SEND_EMAIL, args=[email_id], queue=QUEUE)


def sentinel(stack: NotifyStack, user_id: int) -> None:
    """One worker takes one task at a time in order: once a mail queued after everything else has arrived, a
    duplicate sent by the tasks before it would have arrived too."""
    stack.deliver(registered(user_id))
    stack.wait_for_mails(f"user{user_id}@example.org", 1)


def test_a_worker_killed_after_the_server_accepted_the_mail_never_sends_it_twice(stack: NotifyStack) -> None:
    held = stack.start_worker(NOTIFY_TEST_PAUSE_AFTER_SMTP_S=PAUSE)
    address = "user1@example.org"
    stack.deliver(registered(1))
    mail = stack.wait_for_mails(address, 1)[0]
    email = row(stack, address)
    assert (email.status, email.phase) == (rules.SENDING, rules.PHASE_DATA)  # accepted, "sent" not committed
    held.kill(signal.SIGKILL)

    stack.start_worker()
    after_the_lease(stack, email.id)
    sweep_and_redeliver(stack, email.id)
    wait_until(lambda: row(stack, address).status != rules.SENDING, what=f"the row settled\n{stack.log()}")
    sentinel(stack, 2)

    assert stack.sink.handler.by_message_id()[mail.message_id] == 1  # 0 duplicates
    assert row(stack, address).status == rules.UNCERTAIN
    assert mail.message_id == rules.message_id_for(email.id, stack.app.config["SETTINGS"].mail_from)
    assert row(stack, address).attempts == 1

    # Organisers see it, and resending is their decision (then it may arrive twice, with the same Message-ID).
    client = stack.app.test_client()
    organiser = identity_headers(stack.app, 1000, "organiser")
    items = client.get("/api/v1/notify/failed-emails", headers=organiser).get_json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(email.id, rules.UNCERTAIN)]
    assert client.post(f"/api/v1/notify/emails/{email.id}/resend", headers=organiser).status_code == 202
    wait_until(lambda: row(stack, address).status == rules.SENT, what=f"the resent mail\n{stack.log()}")
    assert stack.sink.handler.by_message_id()[mail.message_id] == 2
    stack.stop_workers()


def test_a_worker_killed_before_connecting_delivers_the_mail_exactly_once_after_a_restart(stack: NotifyStack) -> None:
    held = stack.start_worker(NOTIFY_TEST_PAUSE_BEFORE_SMTP_S=PAUSE)
    address = "user3@example.org"
    stack.deliver(registered(3))
    wait_until(lambda: row(stack, address).phase == rules.PHASE_CONNECTING, what=f"the worker held\n{stack.log()}")
    held.kill(signal.SIGKILL)
    assert stack.sink.handler.to(address) == []

    stack.start_worker()
    email = row(stack, address)
    assert email.status == rules.SENDING
    assert service.requeue_unheld_emails(stack.db, utcnow()) == []  # a live lease: nobody steps in yet
    after_the_lease(stack, email.id)
    sweep_and_redeliver(stack, email.id)
    wait_until(lambda: row(stack, address).status == rules.SENT, what=f"sent after the restart\n{stack.log()}")
    sentinel(stack, 4)

    got = stack.sink.handler.to(address)
    assert len(got) == 1 and got[0].message_id == row(stack, address).message_id
    assert row(stack, address).attempts == 2
    stack.stop_workers()


def test_a_batch_killed_after_its_first_mail_sends_each_of_the_others_exactly_once(stack: NotifyStack) -> None:
    """A fan-out's batch (one SMTP connection, ~one commit per mail) killed right after the server accepted its
    first mail: that one is uncertain, the two not yet handed over go out once each after the restart."""
    trio = (5, 6, 7)
    stack.start_worker()
    for user_id in trio:
        stack.deliver(registered(user_id))
    for user_id in trio:
        stack.wait_for_mails(f"user{user_id}@example.org", 1)  # the welcomes, out of the way
    stack.stop_workers()

    held = stack.start_worker(NOTIFY_TEST_PAUSE_AFTER_SMTP_S=PAUSE)
    paired = CoffeePaired(
        round_id=1, event_id=1,
        groups=[{"group_id": 1, "user_ids": list(trio), "starts_at": "2030-01-01T10:00:00+00:00",
                 "ends_at": "2030-01-01T10:10:00+00:00"}],
    ).envelope()  # fmt: skip
    stack.deliver(paired)  # three mails, enqueued as one batch

    def coffee_rows() -> list[Email]:
        return [e for u in trio for e in stack.emails(f"user{u}@example.org") if e.subject.startswith("Coffee")]

    wait_until(lambda: any(e.phase == rules.PHASE_DATA for e in coffee_rows()) and len(
        [r for r in stack.sink.handler.received() if str(r.message["Subject"]).startswith("Coffee")]) == 1,
        what=f"the first mail of the batch accepted\n{stack.log()}")  # fmt: skip
    held.kill(signal.SIGKILL)
    first = next(e for e in coffee_rows() if e.phase == rules.PHASE_DATA)
    assert sorted(e.phase or "" for e in coffee_rows()) == [rules.PHASE_CONNECTING, rules.PHASE_CONNECTING, "data"]

    stack.start_worker()
    for email in coffee_rows():
        after_the_lease(stack, email.id)
    stack.app.extensions["celery"].send_task(SWEEP_UNSENT, queue=QUEUE)
    wait_until(
        lambda: sorted(e.status for e in coffee_rows()) == [rules.SENT, rules.SENT, rules.UNCERTAIN],
        what=f"two sent, one uncertain\n{stack.log()}",
    )
    sentinel(stack, 8)
    counts = stack.sink.handler.by_message_id()
    mail_from = stack.app.config["SETTINGS"].mail_from
    assert [counts[rules.message_id_for(e.id, mail_from)] for e in coffee_rows()] == [1, 1, 1]
    assert next(e for e in coffee_rows() if e.status == rules.UNCERTAIN).id == first.id
    stack.stop_workers()
