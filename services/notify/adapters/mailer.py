"""Building and sending mail with the standard library.

Headers are built with `email.policy.SMTP` and `email.headerregistry.Address`, and every text that ends up in a
header is one line: a `\\r\\nBcc:` in a display name or a title stays text and can never start a header.

Sending uses smtplib's separate steps (`envelope`: MAIL and RCPT, then DATA) so the caller can record, before
DATA, that from now on the server may have the mail (see services/notify/sender.py).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from services.notify.domain import rules
from services.notify.domain.messages import one_line
from shared.events import utcnow

SMTP_TIMEOUT_S = 30
# Errors worth another try later: the server down, slow, or saying 4xx "try again".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)
# SMTP folds at 78 characters, and a header with no place to fold (a long List-Unsubscribe <URL>) would be
# RFC 2047-encoded, which mail clients do not decode there: fold only at the RFC 5322 hard limit instead.
MAIL_POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    params: dict[str, str]


def address(display_name: str, addr_spec: str) -> Address:
    """A recipient; the name flattened to one line, and dropped if the mail library still refuses it."""
    name = one_line(display_name, 120)
    try:
        return Address(display_name=name, addr_spec=addr_spec)
    except (ValueError, IndexError):
        return Address(addr_spec=addr_spec)


def build(
    *,
    to: Address | str,
    subject: str,
    body: str,
    mail_from: str,
    message_id: str,
    html: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    list_unsubscribe: str | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = one_line(subject, 300)
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(utcnow())
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer
    if list_unsubscribe:
        # RFC 8058 one-click: a POST to the URL unsubscribes, no page to fill in.
        msg["List-Unsubscribe"] = f"<{list_unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for item in attachments:
        msg.add_attachment(
            item.data, maintype=item.maintype, subtype=item.subtype, filename=item.filename, params=item.params
        )
    return msg


def envelope_addresses(msg: EmailMessage) -> tuple[str, list[str]]:
    sender = msg["From"].addresses[0].addr_spec
    recipients = [a.addr_spec for a in msg["To"].addresses]
    return sender, recipients


def envelope(smtp: smtplib.SMTP, msg: EmailMessage) -> None:
    """MAIL FROM and RCPT TO for one message on an open connection; refusals raise smtplib's exceptions."""
    sender, recipients = envelope_addresses(msg)
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def is_permanent(exc: BaseException) -> bool:
    """A 5xx refusal is final; connection trouble and 4xx replies are worth retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(rules.is_permanent_smtp_code(c) for c, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return rules.is_permanent_smtp_code(exc.smtp_code)
    return False
