"""Pure rules of reminders and preferences: what is due, what is skipped and why, texts, tokens, decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.preferences import domain as prefs
from services.notify.preferences import policy
from services.notify.reminders import domain

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY, QUARTER = timedelta(days=1), timedelta(minutes=15)
LONG_AGO = START - timedelta(days=30)


def plan(now: datetime, created_at: datetime = LONG_AGO, **kw: object) -> list[tuple[int, str, str]]:
    due = domain.due_now(starts_at=START, created_at=created_at, offsets=[DAY, QUARTER], now=now, **kw)  # type: ignore[arg-type]
    return [(d.offset_minutes, d.action, d.reason) for d in due]


def test_nothing_is_due_before_its_time() -> None:
    assert plan(START - DAY - timedelta(seconds=1)) == []


def test_each_offset_falls_due_at_its_time() -> None:
    assert plan(START - DAY) == [(1440, domain.SEND, "")]
    assert plan(START - QUARTER) == [(1440, domain.SKIP, domain.SUPERSEDED), (15, domain.SEND, "")]


def test_a_reminder_due_before_the_booking_is_skipped() -> None:
    assert plan(START - timedelta(hours=1), created_at=START - timedelta(hours=2)) == [
        (1440, domain.SKIP, domain.BEFORE_BOOKING)
    ]


def test_after_the_start_everything_is_skipped() -> None:
    assert {reason for _, _, reason in plan(START)} == {domain.STARTED}


def test_already_reminded_for_the_same_time_in_an_earlier_sequence() -> None:
    assert plan(START - DAY, already_sent=frozenset({(1440, START - DAY)})) == [
        (1440, domain.SKIP, domain.ALREADY_REMINDED)
    ]
    # A different due time (the entry moved) is not the same reminder.
    assert plan(START - DAY, already_sent=frozenset({(1440, START - DAY - timedelta(hours=1))})) == [
        (1440, domain.SEND, "")
    ]


def test_no_offsets_no_reminders() -> None:
    assert domain.due_now(starts_at=START, created_at=LONG_AGO, offsets=[], now=START - QUARTER) == []


def test_text_in_the_days_timezone_and_escaped_html() -> None:
    text = domain.reminder_text(
        kind="breakout",
        title="<b>Data</b>\r\nBcc: x@evil.org",
        starts_at=START,
        timezone="America/New_York",
        join_url="https://meet.example.org/a?b=1&c=2",
        now=START - timedelta(hours=3, minutes=20),
        settings_url="http://127.0.0.1:8000/preferences",
    )
    assert "Mon 01 Jun, 08:00 (America/New_York)" in text.text
    assert "in 3 hours 20 minutes" in text.title
    assert "\r" not in text.title and "\n" not in text.title
    assert "<b>" not in text.html and "&lt;b&gt;Data&lt;/b&gt;" in text.html
    assert "b=1&amp;c=2" in text.html


def test_time_until() -> None:
    assert domain.time_until(START, START - timedelta(days=1, hours=2)) == "in 1 day 2 hours"
    assert domain.time_until(START, START - timedelta(minutes=1)) == "in 1 minute"
    assert domain.time_until(START, START) == "now"


def test_decisions_from_stored_choices() -> None:
    assert prefs.decide_from(None, "bookings") == prefs.Decision(True, "now")
    stored = {"news": {"in_app": False, "email": "daily"}, "reminders": {"in_app": True, "email": "daily"}}
    assert prefs.decide_from(stored, "news") == prefs.Decision(False, "daily")
    assert prefs.decide_from(stored, "reminders").email == "now"  # never held for a digest
    assert prefs.decide_from({"bookings": {"in_app": True, "email": "off"}}, "account") == prefs.ALWAYS


def test_offsets() -> None:
    assert prefs.offsets_from(None) == [DAY, QUARTER]
    assert prefs.offsets_from([15, 120, 15]) == [timedelta(hours=2), QUARTER]
    assert prefs.offsets_from([]) == []


def test_unsubscribe_tokens_are_signed_and_purpose_bound() -> None:
    url = policy.unsubscribe_url("https://days.example.org/", "s3cret", 42, "news")
    assert url is not None and url.startswith("https://days.example.org/unsubscribe/")
    token = url.rsplit("/", 1)[1]
    assert policy.read_unsubscribe_token("s3cret", token) == (42, "news")
    assert policy.read_unsubscribe_token("other-secret", token) is None
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert policy.read_unsubscribe_token("s3cret", tampered) is None
    # Same secret, other purpose: a token signed with another salt does not verify.
    from itsdangerous import URLSafeSerializer

    foreign = URLSafeSerializer("s3cret", salt="calendar").dumps({"u": 42, "c": "news"})
    assert policy.read_unsubscribe_token("s3cret", str(foreign)) is None
    assert policy.unsubscribe_url("https://x", "s3cret", 42, "account") is None
