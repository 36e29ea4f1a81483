"""Celery tasks of the notify service (queue "notify"): named, ids as arguments, acks_late, idempotent."""

from __future__ import annotations

import logging

from celery import Celery, Task, shared_task
from flask import current_app

from services.notify import sender, service
from services.notify.adapters import mailer
from services.notify.domain import rules
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
SEND_EMAIL = "notify.send_email"
SEND_EMAILS = "notify.send_emails"
SWEEP_UNSENT = "notify.sweep_unsent_emails"


def enqueue_send(celery: Celery, email_id: int) -> None:
    """By name, so callers need not import this module's task objects (and their default app)."""
    celery.send_task(SEND_EMAIL, args=[email_id], queue=QUEUE)


def enqueue_sends(celery: Celery, email_ids: list[int]) -> None:
    """Many mails (a fan-out): batches sent over one SMTP connection each."""
    for start in range(0, len(email_ids), sender.BATCH_SIZE):
        celery.send_task(SEND_EMAILS, args=[email_ids[start : start + sender.BATCH_SIZE]], queue=QUEUE)


def _pauses() -> sender.Pauses:
    config = current_app.config
    return sender.Pauses(
        before_smtp_s=float(config.get("NOTIFY_TEST_PAUSE_BEFORE_SMTP_S") or 0),
        after_smtp_s=float(config.get("NOTIFY_TEST_PAUSE_AFTER_SMTP_S") or 0),
    )


def _log(outcome: sender.Outcome) -> None:
    log.info(
        "emails sent",
        extra={
            "sent": len(outcome.sent),
            "failed": len(outcome.failed),
            "uncertain": len(outcome.uncertain),
            "retry": len(outcome.retry),
        },  # fmt: skip
    )


@shared_task(
    name=SEND_EMAIL,
    bind=True,
    acks_late=True,
    autoretry_for=mailer.TRANSIENT_ERRORS,
    retry_backoff=rules.RETRY_BACKOFF_S,
    retry_backoff_max=rules.RETRY_BACKOFF_MAX_S,
    retry_jitter=False,  # so the row's retry lease can be computed with the same formula
    max_retries=rules.MAX_RETRIES,
)
def send_email(self: Task, email_id: int) -> str:
    """One mail. Exactly-once effect as far as SMTP allows (see services/notify/sender.py); a temporary failure
    is retried with backoff by Celery, a permanent one marks the mail failed."""
    db = current_app.extensions["db"]
    email = service.claim_email(db, email_id, utcnow())
    if email is None:
        return "skipped"  # already sent, failed, uncertain, unknown, or another worker holds it
    retries = self.request.retries
    outcome = sender.send_claimed(
        db,
        current_app.config["SETTINGS"],
        [email],
        retry_lease_until=lambda now: rules.retry_lease_until(now, retries),
        pauses=_pauses(),
    )
    _log(outcome)
    if outcome.retry:
        error = outcome.retry_error
        if retries >= rules.MAX_RETRIES:
            service.give_up(db, email_id, f"{type(error).__name__}: {error}")
            return "failed"
        assert error is not None
        raise error  # autoretry_for schedules the next try with backoff
    return "sent" if outcome.sent else "uncertain" if outcome.uncertain else "failed"


@shared_task(name=SEND_EMAILS, acks_late=True)
def send_emails(email_ids: list[int]) -> dict[str, int]:
    """Up to BATCH_SIZE mails over one SMTP connection, about one commit each (a fan-out's fast path). Mails hit
    by a temporary error go on as single `send_email` tasks, with their backoff."""
    db = current_app.extensions["db"]
    claimed = service.claim_emails(db, list(email_ids)[: sender.BATCH_SIZE], utcnow())
    if not claimed:
        return {"sent": 0}
    outcome = sender.send_claimed(
        db,
        current_app.config["SETTINGS"],
        claimed,
        retry_lease_until=lambda now: rules.retry_lease_until(now, 0),
        pauses=_pauses(),
    )
    _log(outcome)
    celery = current_app.extensions["celery"]
    for email_id in outcome.retry:
        celery.send_task(SEND_EMAIL, args=[email_id], queue=QUEUE, countdown=rules.retry_delay_s(0))
    return {"sent": len(outcome.sent), "failed": len(outcome.failed), "uncertain": len(outcome.uncertain),
            "retry": len(outcome.retry)}  # fmt: skip


@shared_task(name=SWEEP_UNSENT, acks_late=True)
def sweep_unsent_emails() -> int:
    """Enqueue emails nobody is handling: covers a crash between commit and enqueue and a worker killed mid-send."""
    ids = service.requeue_unheld_emails(current_app.extensions["db"], utcnow())
    celery = current_app.extensions["celery"]
    enqueue_sends(celery, ids)
    if ids:
        log.info("re-enqueued unsent emails", extra={"count": len(ids)})
    return len(ids)
