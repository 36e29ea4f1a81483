"""Celery tasks of the notify service (queue "notify"): named, ids as arguments, acks_late, idempotent."""

from __future__ import annotations

import logging
import time
from email.message import EmailMessage

from celery import Celery, Task, shared_task
from flask import current_app

from services.notify import outgoing, service
from services.notify.adapters import mailer
from services.notify.adapters.orm import Email
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


def _ics_attachment(ics: str) -> mailer.Attachment:
    # The iTIP method must be on the MIME part too, or calendar clients treat the invite as a plain file.
    method = next(
        (line.split(":", 1)[1].strip() for line in ics.splitlines() if line.upper().startswith("METHOD:")),
        "PUBLISH",
    )
    return mailer.Attachment("invite.ics", "text", "calendar", ics.encode(), {"method": method})


def _message_for(email: Email, settings: Settings, message_id: str) -> EmailMessage:
    db = current_app.extensions["db"]
    unsubscribe = None
    if email.user_id is not None and email.category:
        unsubscribe = outgoing.unsubscribe_url(settings.public_url, settings.secret_key, email.user_id, email.category)
    return mailer.build(
        to=mailer.address(service.recipient_name(db, email.user_id), email.to_address),
        subject=email.subject,
        body=email.body,
        html=email.html_body,
        attachments=(_ics_attachment(email.ics),) if email.ics else (),
        mail_from=settings.mail_from,
        message_id=message_id,
        list_unsubscribe=unsubscribe,
    )


def _test_pause(name: str) -> None:
    """Test seam (create_app config, only honoured in development/test): hold the worker inside a window so a
    test can SIGKILL it there."""
    seconds = float(current_app.config.get(name) or 0)
    if seconds > 0:
        log.warning("test pause", extra={"pause": name, "seconds": seconds})
        time.sleep(seconds)


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
    """Exactly-once effect as far as SMTP allows: the phase is committed before each step. A worker found dead
    in phase "connecting" is retried safely; one dead in phase "data" leaves the row `uncertain`."""
    db = current_app.extensions["db"]
    settings: Settings = current_app.config["SETTINGS"]
    email = service.claim_email(db, email_id, utcnow())
    if email is None:
        return "skipped"  # already sent, failed, uncertain, unknown, or another worker holds it
    message_id = rules.message_id_for(email.id, settings.mail_from)
    try:
        msg = _message_for(email, settings, message_id)
    except (ValueError, TypeError, IndexError) as exc:  # an address or header the mail library refuses
        service.mark_failed(db, email_id, f"cannot build the mail: {type(exc).__name__}: {exc}")
        log.warning("email cannot be built", extra={"email_id": email_id, "error": str(exc)})
        return "failed"
    service.record_phase(db, email_id, rules.PHASE_CONNECTING)
    _test_pause("NOTIFY_TEST_PAUSE_BEFORE_SMTP_S")
    try:
        mailer.send(
            msg,
            settings.smtp_host,
            settings.smtp_port,
            before_data=lambda: service.record_phase(db, email_id, rules.PHASE_DATA),
        )
    except mailer.UncertainDelivery as exc:
        service.mark_uncertain(db, email_id, str(exc))
        log.warning("email delivery uncertain", extra={"email_id": email_id, "error": str(exc)})
        return "uncertain"
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
    _test_pause("NOTIFY_TEST_PAUSE_AFTER_SMTP_S")
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
