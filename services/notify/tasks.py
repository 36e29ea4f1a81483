"""Celery tasks of the notify service (queue "notify"): named, ids as arguments, acks_late, idempotent."""

from __future__ import annotations

import logging

from celery import Celery, Task, shared_task
from flask import current_app

from services.notify import service
from services.notify.adapters import mailer
from services.notify.domain import rules
from shared.config import Settings
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
SEND_EMAIL = "notify.send_email"
SWEEP_UNSENT = "notify.sweep_unsent_emails"


def enqueue_send(celery: Celery, email_id: int) -> None:
    """By name, so callers need not import this module's task objects (and their default app)."""
    celery.send_task(SEND_EMAIL, args=[email_id], queue=QUEUE)


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
    db = current_app.extensions["db"]
    settings: Settings = current_app.config["SETTINGS"]
    email = service.claim_email(db, email_id, utcnow())
    if email is None:
        return "skipped"  # already sent, failed, unknown, or another worker holds it
    message_id = rules.message_id_for(email.id, settings.mail_from)
    msg = mailer.build(
        to_address=email.to_address,
        subject=email.subject,
        body=email.body,
        mail_from=settings.mail_from,
        message_id=message_id,
    )
    try:
        mailer.send(msg, settings.smtp_host, settings.smtp_port)
    except mailer.TRANSIENT_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
        retries = self.request.retries
        if mailer.is_permanent(exc):
            service.mark_failed(db, email_id, error)
            log.warning("email refused", extra={"email_id": email_id, "error": error})
            return "failed"
        if retries >= rules.MAX_RETRIES:
            service.mark_failed(db, email_id, error)
        else:
            service.release_for_retry(db, email_id, error, rules.retry_lease_until(utcnow(), retries))
        log.info("email send failed", extra={"email_id": email_id, "error": error, "retries": retries})
        raise  # autoretry_for schedules the next try with backoff
    except Exception as exc:
        service.mark_failed(db, email_id, f"{type(exc).__name__}: {exc}")
        raise
    service.mark_sent(db, email_id, message_id)
    log.info("email sent", extra={"email_id": email_id, "message_id": message_id})
    return "sent"


@shared_task(name=SWEEP_UNSENT, acks_late=True)
def sweep_unsent_emails() -> int:
    """Enqueue emails nobody is handling: covers a crash between commit and enqueue and a worker killed mid-send."""
    ids = service.requeue_unheld_emails(current_app.extensions["db"], utcnow())
    celery = current_app.extensions["celery"]
    for email_id in ids:
        enqueue_send(celery, email_id)
    if ids:
        log.info("re-enqueued unsent emails", extra={"count": len(ids)})
    return len(ids)
