"""The notify service's pure parts: message texts and delivery rules."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from celery.utils.time import get_exponential_backoff_interval

from services.notify.adapters import mailer
from services.notify.domain import messages, rules


def test_welcome_greets_by_name_and_links_to_the_events() -> None:
    msg = messages.welcome("Ada Lovelace", "Analytical Engines Ltd", "https://days.example.org/")
    assert msg.kind == messages.WELCOME
    assert msg.title == "Welcome to Insight Days, Ada Lovelace"
    assert msg.email_subject == msg.title
    assert "Ada Lovelace from Analytical Engines Ltd" in msg.body
    assert msg.link == "/"
    assert "Start here: https://days.example.org/\n" in (msg.email_text or "")


def test_welcome_keeps_user_text_out_of_headers() -> None:
    msg = messages.welcome("Eve\r\nBcc: victim@example.org", "", "http://x")
    assert "\n" not in (msg.email_subject or "") and "\r" not in (msg.email_subject or "")
    assert " from " not in msg.body  # no organisation given


def test_welcome_shortens_very_long_names_and_handles_blank_ones() -> None:
    assert len(messages.welcome("x" * 500, "", "http://x").title) < 120
    assert messages.welcome("   ", "", "http://x").title == "Welcome to Insight Days, there"


@pytest.mark.parametrize("retries", range(12))
def test_retry_delay_matches_celerys_backoff(retries: int) -> None:
    # The row's retry lease must cover the countdown Celery actually uses, or the sweep would double-send.
    celery_delay = get_exponential_backoff_interval(
        rules.RETRY_BACKOFF_S, retries, rules.RETRY_BACKOFF_MAX_S, full_jitter=False
    )
    assert rules.retry_delay_s(retries) == celery_delay


def test_retry_lease_outlasts_the_countdown() -> None:
    now = datetime(2026, 5, 4, 9, tzinfo=UTC)
    assert rules.retry_lease_until(now, 3) == now + timedelta(seconds=16) + rules.ENQUEUE_GRACE


def test_message_id_is_stable_and_uses_the_sender_domain() -> None:
    sender = "Insight Days <no-reply@days.example.org>"
    assert rules.message_id_for(7, sender) == rules.message_id_for(7, sender) == "<notify-email-7@days.example.org>"
    assert rules.message_id_for(8, sender) != rules.message_id_for(7, sender)
    assert rules.message_id_for(7, "nobody") == "<notify-email-7@insightdays.local>"


def test_pages() -> None:
    assert rules.offset(1) == 0 and rules.offset(3) == 2 * rules.PAGE_SIZE
    assert rules.has_more(rules.PAGE_SIZE + 1, 1)
    assert not rules.has_more(rules.PAGE_SIZE, 1)
    assert not rules.has_more(0, 1)


@pytest.mark.parametrize(
    ("exc", "permanent"),
    [
        (ConnectionRefusedError(111, "refused"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (smtplib.SMTPDataError(451, b"try later"), False),
        (smtplib.SMTPDataError(554, b"rejected"), True),
        (smtplib.SMTPSenderRefused(550, b"no", "a@b"), True),
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no"), "c@d": (451, b"later")}), False),
    ],
)
def test_only_5xx_refusals_are_permanent(exc: BaseException, permanent: bool) -> None:
    assert mailer.is_permanent(exc) is permanent
    assert isinstance(exc, mailer.TRANSIENT_ERRORS)  # all reach the task's except clause


def test_built_email_carries_the_stable_message_id() -> None:
    msg = mailer.build(
        to="ada@example.org", subject="Hi", body="Hello", mail_from="A <a@x.org>", message_id="<m-1@x.org>"
    )
    assert msg["Message-ID"] == "<m-1@x.org>"
    assert msg["To"] == "ada@example.org" and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content().strip() == "Hello"
