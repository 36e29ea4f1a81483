"""Sending claimed email rows over one SMTP connection, with each step committed before it happens.

For a batch [m1, m2, ...] on one connection the commits are: the claim (all rows `sending`, phase "connecting"),
then after MAIL and RCPT of m1 "m1 in DATA", DATA m1, after MAIL and RCPT of m2 "m1 sent + m2 in DATA" in one
commit, DATA m2, ..., and finally "mN sent". So about one commit per mail, and a crash anywhere leaves each row in
a state that says what may have happened: "connecting" = never handed to the server (safe to send again), "data" =
maybe accepted (becomes `uncertain`, never resent automatically).
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from services.notify import outgoing, service
from services.notify.adapters import mailer
from services.notify.adapters.orm import Email
from services.notify.domain import rules
from shared.config import Settings
from shared.db import Database
from shared.events import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # mails per task and SMTP connection: few enough that the lease (2 min) covers a slow server


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # released to `queued` with a retry lease
    retry_error: BaseException | None = None  # the transient error behind them (a single-mail task re-raises it)


@dataclass(frozen=True)
class Pauses:
    """Test seams (create_app config, development/test only): hold the worker inside a window to kill it there."""

    before_smtp_s: float = 0.0
    after_smtp_s: float = 0.0


def _ics_attachment(ics: str) -> mailer.Attachment:
    # The iTIP method must be on the MIME part too, or calendar clients treat the invite as a plain file.
    method = next(
        (line.split(":", 1)[1].strip() for line in ics.splitlines() if line.upper().startswith("METHOD:")),
        "PUBLISH",
    )
    return mailer.Attachment("invite.ics", "text", "calendar", ics.encode(), {"method": method})


def message_for(email: Email, settings: Settings, name: str) -> EmailMessage:
    unsubscribe = None
    if email.user_id is not None and email.category:
        unsubscribe = outgoing.unsubscribe_url(settings.public_url, settings.secret_key, email.user_id, email.category)
    return mailer.build(
        to=mailer.address(name, email.to_address),
        subject=email.subject,
        body=email.body,
        html=email.html_body,
        attachments=(_ics_attachment(email.ics),) if email.ics else (),
        mail_from=settings.mail_from,
        message_id=rules.message_id_for(email.id, settings.mail_from),
        list_unsubscribe=unsubscribe,
    )


def _pause(seconds: float, which: str) -> None:
    if seconds > 0:
        log.warning("test pause", extra={"pause": which, "seconds": seconds})
        time.sleep(seconds)


def send_claimed(
    db: Database,
    settings: Settings,
    claimed: list[Email],
    *,
    retry_lease_until: Callable[[datetime], datetime],
    pauses: Pauses = Pauses(),
) -> Outcome:
    outcome = Outcome()
    pending: list[service.Step] = []  # finished mails, committed together with the next "in DATA"
    names = service.recipient_names(db, [e.user_id for e in claimed])
    ready: list[tuple[Email, EmailMessage]] = []
    for email in claimed:
        try:
            ready.append((email, message_for(email, settings, names.get(email.user_id or 0, ""))))
        except (ValueError, TypeError, IndexError) as exc:  # an address or header the mail library refuses
            pending.append(service.failed_step(email.id, email.attempts, f"cannot build the mail: {exc}"))
            outcome.failed.append(email.id)
            log.warning("email cannot be built", extra={"email_id": email.id, "error": str(exc)})

    def retry_rest(rest: list[tuple[Email, EmailMessage]], exc: BaseException) -> None:
        lease = retry_lease_until(utcnow())
        for email, _ in rest:
            pending.append(service.retry_step(email.id, email.attempts, f"{type(exc).__name__}: {exc}", lease))
            outcome.retry.append(email.id)
        outcome.retry_error = exc

    _pause(pauses.before_smtp_s, "before SMTP")
    try:
        if ready:
            _send_on_one_connection(db, settings, ready, pending, outcome, retry_rest, pauses)
    finally:
        if pending:
            service.apply_steps(db, pending)
    return outcome


def _send_on_one_connection(
    db: Database,
    settings: Settings,
    ready: list[tuple[Email, EmailMessage]],
    pending: list[service.Step],
    outcome: Outcome,
    retry_rest: Callable[[list[tuple[Email, EmailMessage]], BaseException], None],
    pauses: Pauses,
) -> None:
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=mailer.SMTP_TIMEOUT_S)
        smtp.ehlo_or_helo_if_needed()
    except mailer.TRANSIENT_ERRORS as exc:
        retry_rest(ready, exc)
        return
    try:
        for index, (email, msg) in enumerate(ready):
            try:
                mailer.envelope(smtp, msg)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
                _refused(email, exc, pending, outcome, retry_rest, [(email, msg)])
                try:
                    smtp.rset()
                except mailer.TRANSIENT_ERRORS as broken:
                    retry_rest(ready[index + 1 :], broken)
                    return
                continue
            except mailer.TRANSIENT_ERRORS as exc:  # the connection broke: the rest go another time
                retry_rest(ready[index:], exc)
                return
            # "the previous one sent" and "this one in DATA", in one commit, before DATA
            ours = service.apply_steps(db, [*pending, service.data_step(email.id, email.attempts)])[-1]
            pending.clear()
            if not ours:  # our lease ran out and someone else holds the row now: leave it to them
                try:
                    smtp.rset()
                except mailer.TRANSIENT_ERRORS as broken:
                    retry_rest(ready[index + 1 :], broken)
                    return
                continue
            try:
                smtp.data(msg.as_bytes(policy=mailer.MAIL_POLICY))
            except smtplib.SMTPResponseException as exc:  # the server answered: not accepted
                _refused(email, exc, pending, outcome, retry_rest, [(email, msg)])
                continue
            except (smtplib.SMTPException, OSError) as exc:  # no answer: maybe accepted
                pending.append(service.uncertain_step(email.id, email.attempts, f"{type(exc).__name__}: {exc}"))
                outcome.uncertain.append(email.id)
                log.warning("email delivery uncertain", extra={"email_id": email.id, "error": str(exc)})
                retry_rest(ready[index + 1 :], exc)
                return
            _pause(pauses.after_smtp_s, "after SMTP")
            pending.append(service.sent_step(email.id, email.attempts, str(msg["Message-ID"])))
            outcome.sent.append(email.id)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _refused(
    email: Email,
    exc: BaseException,
    pending: list[service.Step],
    outcome: Outcome,
    retry_rest: Callable[[list[tuple[Email, EmailMessage]], BaseException], None],
    this: list[tuple[Email, EmailMessage]],
) -> None:
    if mailer.is_permanent(exc):
        pending.append(service.failed_step(email.id, email.attempts, f"{type(exc).__name__}: {exc}"))
        outcome.failed.append(email.id)
        log.warning("email refused", extra={"email_id": email.id, "error": str(exc)})
    else:
        retry_rest(this, exc)
