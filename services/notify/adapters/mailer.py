"""SMTP delivery with the standard library."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime

from services.notify.domain import rules
from shared.events import utcnow

SMTP_TIMEOUT_S = 30
# Errors worth another try later: the server down, slow, or saying 4xx "try again".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)


def build(*, to_address: str, subject: str, body: str, mail_from: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to_address
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(utcnow())
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer
    msg.set_content(body)
    return msg


def send(msg: EmailMessage, host: str, port: int) -> None:
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
        smtp.send_message(msg)


def is_permanent(exc: BaseException) -> bool:
    """A 5xx refusal is final; connection trouble and 4xx replies are worth retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(rules.is_permanent_smtp_code(c) for c, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return rules.is_permanent_smtp_code(exc.smtp_code)
    return False
