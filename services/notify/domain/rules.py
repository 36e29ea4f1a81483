"""Rules of delivery: leases, retries, which emails the sweep picks up, Message-IDs, pages. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
UNCERTAIN = "uncertain"  # the worker died after DATA began: maybe delivered; only an organiser resends it
HELD = "held"  # waits for the person's daily digest
STATUSES = (QUEUED, SENDING, SENT, FAILED, UNCERTAIN, HELD)
PROBLEMS = (FAILED, UNCERTAIN)  # what organisers see and may resend

# Where a send attempt got to, committed before each step.
PHASE_CONNECTING = "connecting"  # nothing handed to the server yet: sending again is safe
PHASE_DATA = "data"  # DATA began: the server may have the mail; never sent again automatically

SEND_LEASE = timedelta(minutes=2)  # longer than the SMTP timeout: a live worker never loses its lease
ENQUEUE_GRACE = timedelta(seconds=30)  # the consumer enqueues right after commit; the sweep waits this long
RETRY_BACKOFF_S = 2  # 2, 4, 8, ... seconds between tries
RETRY_BACKOFF_MAX_S = 300
MAX_RETRIES = 10  # per Celery task; the sweep may start a fresh task later
MAX_ATTEMPTS = 3 * (MAX_RETRIES + 1)  # over all tasks: then the email is marked failed
PAGE_SIZE = 20


def retry_delay_s(retries: int) -> int:
    """Seconds before try number `retries + 2` (Celery's exponential backoff without jitter)."""
    return min(RETRY_BACKOFF_MAX_S, RETRY_BACKOFF_S * 2**retries)


def is_permanent_smtp_code(code: int) -> bool:
    """5xx replies (unknown mailbox, policy refusal) will not get better by trying again; 4xx may."""
    return 500 <= code <= 599


def retry_lease_until(now: datetime, retries: int) -> datetime:
    """The sweep leaves a row alone while its retry is scheduled, plus the usual grace."""
    return now + timedelta(seconds=retry_delay_s(retries)) + ENQUEUE_GRACE


def message_id_for(email_id: int, mail_from: str) -> str:
    """A Message-ID that is the same on every try, so a resend after a crash is recognisable as a duplicate."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2] if "@" in address else ""
    return f"<notify-email-{email_id}@{domain or 'insightdays.local'}>"


def has_more(total: int, page: int, page_size: int = PAGE_SIZE) -> bool:
    return page * page_size < total


def offset(page: int, page_size: int = PAGE_SIZE) -> int:
    return (page - 1) * page_size
