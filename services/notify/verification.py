"""VerificationRequested -> an "account" mail (always sent, no unsubscribe link): the confirmation link for a new
registration, or "someone tried to register with your address" for its owner.

These go out as Email rows without an in-app notification: the registrant of a new address is not a recipient
yet (UserRegistered comes only once the address is confirmed), and neither text contains anything the registrant
wrote, so a stranger cannot make us mail their words to any address.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.notify.adapters.orm import Email, ProcessedEvent
from services.notify.domain import rules
from services.notify.tasks import enqueue_send
from shared.bus import Handler
from shared.events import Envelope, VerificationRequested, utcnow
from shared.inbox import idempotent

CATEGORY = "account"
CONFIRM_SUBJECT = "Confirm your e-mail address for Insight Days"
TAKEN_SUBJECT = "Someone tried to register with your e-mail address"
# Registering a taken address over and over must not become a way to flood its owner's mailbox.
TAKEN_MAIL_EVERY = timedelta(hours=1)


def confirm_text(link: str, expires_at: str) -> str:
    until = f" It works until {expires_at[:16].replace('T', ' ')} UTC." if expires_at else ""
    return (
        "Hello,\n\n"
        "someone (we hope you) registered for Insight Days with this e-mail address. To activate the account, open\n"
        f"this link and confirm:\n\n{link}\n\n{until.strip()}\n\n"
        "If you did not register, ignore this mail: the account stays inactive and nothing else happens.\n"
    )


def taken_text(sign_in_link: str) -> str:
    return (
        "Hello,\n\n"
        "someone just tried to register for Insight Days with your e-mail address, which already has an account.\n"
        "Nothing was changed. If it was you, sign in instead:\n\n"
        f"{sign_in_link}\n\n"
        "If it was not you, you need not do anything.\n"
    )


def _recently_told(session: Session, user_id: int) -> bool:
    since = utcnow() - TAKEN_MAIL_EVERY
    query = select(func.count(Email.id)).where(
        Email.user_id == user_id, Email.subject == TAKEN_SUBJECT, Email.created_at >= since
    )
    return bool(session.scalar(query))


def record_mail(session: Session, event: VerificationRequested) -> Email | None:
    """The Email row for this request (queued), or None when the owner was told about an attempt within the hour."""
    if event.purpose == "confirm_address":
        subject, body = CONFIRM_SUBJECT, confirm_text(event.link, event.expires_at)
    elif event.purpose == "address_taken":
        if _recently_told(session, event.user_id):
            return None
        subject, body = TAKEN_SUBJECT, taken_text(event.link)
    else:
        return None  # a purpose from a newer gateway: ignored rather than mailed with a guessed text
    email = Email(
        notification_id=None,
        user_id=event.user_id,
        category=CATEGORY,
        to_address=event.email,
        subject=subject,
        body=body,
        status=rules.QUEUED,
        lease_until=utcnow() + rules.ENQUEUE_GRACE,  # the sweep steps in only if the enqueue below is lost
    )
    session.add(email)
    session.flush()
    return email


def handler(app: Flask) -> Handler:
    db = app.extensions["db"]
    celery = app.extensions["celery"]

    def handle(envelope: Envelope) -> None:
        queued: list[int] = []

        def apply(session: Session, event: object) -> None:
            assert isinstance(event, VerificationRequested)
            email = record_mail(session, event)
            if email is not None:
                queued.append(email.id)

        idempotent(db, ProcessedEvent, apply)(envelope)
        for email_id in queued:  # after the commit; a redelivery finds the event applied and queues nothing
            enqueue_send(celery, email_id)

    return handle
