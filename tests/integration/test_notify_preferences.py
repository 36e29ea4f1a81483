"""Preferences through notify's API, honoured by outgoing.notify, the one-click unsubscribe on a real mail at a
real aiosmtpd sink, and the daily digest bundled by the real Celery worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from services.notify import outgoing
from services.notify.adapters.orm import Email, Notification, Recipient
from services.notify.preferences import digest
from services.notify.preferences import policy as prefs_policy
from services.notify.preferences.tasks import SEND_DAILY_DIGESTS
from tests.conftest import identity_headers
from tests.support.processes import celery_worker, free_port, service_env, wait_until

pytestmark = pytest.mark.integration

URL = "/api/v1/me/notification-settings"


class RawSink:
    """aiosmtpd handler keeping each message exactly as it came over the wire (plus the envelope recipient)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.count += 1
        raw = envelope.original_content or envelope.content
        rcpt = ", ".join(envelope.rcpt_tos).encode()
        (self.directory / f"{self.count:04d}.eml").write_bytes(b"X-RcptTo: " + rcpt + b"\r\n" + raw)
        return "250 OK"


@pytest.fixture
def app(make_app) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = make_app("notify")
    with app.extensions["db"].unit_of_work() as session:
        for user_id in (1, 2):
            session.add(Recipient(user_id=user_id, email=f"user{user_id}@example.org", display_name=f"P{user_id}"))
    yield app


def tell(app: Flask, user_id: int, category: str, key: str) -> int | None:
    """One notification of `category` through the real outgoing path; its id once committed."""
    with app.extensions["db"].unit_of_work() as session:
        note = outgoing.notify(
            session,
            user_id=user_id,
            kind="test_news",
            category=category,
            subject_key=key,
            version=1,
            title=f"News {key}",
            text=f"Body of {key}\nsecond line",
        )
        note_id = note.id if note else None
    if note_id is not None:
        outgoing.after_commit(app, [note_id])
    return note_id


def emails(app: Flask, user_id: int) -> list[Email]:
    with app.extensions["db"].unit_of_work() as session:
        return list(session.scalars(select(Email).where(Email.user_id == user_id).order_by(Email.id)))


def mails(directory: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(directory.glob("*.eml"))
    ]


def test_settings_read_change_and_refuse_bad_input_whole(app: Flask) -> None:
    client = app.test_client()
    me = identity_headers(app, 1)
    assert client.get(URL).status_code == 401
    body = client.get(URL, headers=me).get_json()
    assert body["categories"]["news"] == {"in_app": True, "email": "now"}
    assert body["reminder_offsets_minutes"] == [1440, 15] and body["digest_hour"] == 8

    changed = client.put(
        URL,
        headers=me,
        json={
            "categories": {"news": {"in_app": False, "email": "daily"}},
            "reminder_offsets_minutes": [15, 60],
            "digest_hour": 7,
            "timezone": "Europe/Paris",
        },
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["categories"]["news"] == {"in_app": False, "email": "daily"}
    assert body["categories"]["bookings"] == {"in_app": True, "email": "now"}
    assert body["reminder_offsets_minutes"] == [60, 15] and body["timezone"] == "Europe/Paris"
    assert client.get(URL, headers=identity_headers(app, 2)).get_json()["digest_hour"] == 8  # only mine changed

    bad = [
        ({"categories": {"gossip": {"in_app": True, "email": "now"}}}, "categories.gossip"),
        ({"categories": {"reminders": {"in_app": True, "email": "daily"}}}, "categories.reminders.email"),
        ({"categories": {"news": {"in_app": "yes", "email": "now"}}}, "categories.news.in_app"),
        ({"categories": {"news": {"in_app": True, "email": "weekly"}}}, "categories.news.email"),
        ({"reminder_offsets_minutes": [0]}, "reminder_offsets_minutes.0"),
        ({"reminder_offsets_minutes": [15, 15]}, "reminder_offsets_minutes"),
        ({"reminder_offsets_minutes": [1, 2, 3, 4, 5, 6]}, "reminder_offsets_minutes"),
        ({"digest_hour": 24}, "digest_hour"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"colour": "red"}, "colour"),
        # A valid part and a bad one: nothing of it is saved.
        ({"categories": {"bookings": {"in_app": False, "email": "off"}}, "timezone": "Nowhere"}, "timezone"),
    ]
    for payload, field in bad:
        response = client.put(URL, headers=me, json=payload)
        assert response.status_code == 400, payload
        assert response.get_json()["error"]["field"] == field, (payload, response.get_json())
    assert client.put(URL, headers=me, data="[]", content_type="application/json").status_code == 400
    assert client.get(URL, headers=me).get_json() == body


def test_choices_are_honoured_by_every_sender(app: Flask) -> None:
    db = app.extensions["db"]
    client = app.test_client()
    client.put(
        URL,
        headers=identity_headers(app, 1),
        json={
            "categories": {
                "news": {"in_app": True, "email": "off"},
                "followup": {"in_app": False, "email": "now"},
                "schedule": {"in_app": True, "email": "daily"},
            }
        },
    )
    tell(app, 1, "news", "a")
    tell(app, 1, "followup", "b")
    tell(app, 1, "schedule", "c")
    tell(app, 1, "account", "d")  # always on, whatever the choices
    with db.unit_of_work() as session:
        shown = {n.category: n.in_app for n in session.scalars(select(Notification))}
    assert shown == {"news": True, "followup": False, "schedule": True, "account": True}
    assert {(e.category, e.status) for e in emails(app, 1)} == {
        ("followup", "queued"),
        ("schedule", "held"),
        ("account", "queued"),
    }


def test_tampered_or_foreign_unsubscribe_tokens_are_refused(app: Flask) -> None:
    client = app.test_client()
    secret = app.config["SETTINGS"].secret_key
    url = prefs_policy.unsubscribe_url("http://x", secret, 1, "news")
    assert url is not None
    token = url.rsplit("/", 1)[1]
    assert client.get(f"/api/v1/unsubscribe/{token}").get_json() == {"category": "news", "email": "now"}
    forged = [
        token[:-3] + "abc",
        URLSafeSerializer(secret, salt=prefs_policy.UNSUBSCRIBE_SALT).dumps({"u": 1, "c": "account"}),
        URLSafeSerializer(secret, salt="other-purpose").dumps({"u": 1, "c": "news"}),
        URLSafeSerializer("not-our-secret", salt=prefs_policy.UNSUBSCRIBE_SALT).dumps({"u": 1, "c": "news"}),
        "garbage",
    ]
    for bad in forged:
        for method in (client.get, client.post):
            response = method(f"/api/v1/unsubscribe/{bad}")
            assert response.status_code == 400, bad
            assert response.get_json()["error"] == {
                "code": "invalid_token",
                "message": "this unsubscribe link is not valid (altered or incomplete)",
                "field": "token",
            }
    assert client.get(URL, headers=identity_headers(app, 1)).get_json()["categories"]["news"]["email"] == "now"


def test_one_click_unsubscribe_from_a_real_mail_and_the_daily_digest(  # type: ignore[no-untyped-def]
    app: Flask, redis_url: str, service_environment: Path, tmp_path: Path
) -> None:
    sink = Controller(RawSink(tmp_path / "mail"), hostname="127.0.0.1", port=free_port())
    sink.start()
    env = service_env(redis_url, service_environment, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port))
    worker = celery_worker("notify", env, tmp_path)
    client = app.test_client()
    try:
        tell(app, 1, "news", "first")
        wait_until(lambda: mails(tmp_path / "mail"), timeout=60, what=f"a mail\n{worker.output()[-3000:]}")
        [mail] = mails(tmp_path / "mail")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        header = mail["List-Unsubscribe"]
        # Literally on the wire, not RFC 2047-encoded (mail clients do not decode this header).
        [raw] = [p.read_bytes() for p in (tmp_path / "mail").glob("*.eml")]
        assert f"\r\nList-Unsubscribe: {header}\r\n".encode() in raw
        assert header.startswith("<") and header.endswith(">")
        link = header[1:-1]
        assert link.startswith(app.config["SETTINGS"].public_url.rstrip("/") + "/unsubscribe/")
        token = link.rsplit("/", 1)[1]
        # What a mail client does (RFC 8058): POST the form field, no cookie, no CSRF token.
        response = client.post(
            f"/api/v1/unsubscribe/{token}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200 and response.get_json() == {"category": "news", "email": "off"}
        assert client.post(f"/api/v1/unsubscribe/{token}").status_code == 200  # again: still off, no error
        settings = client.get(URL, headers=identity_headers(app, 1)).get_json()["categories"]["news"]
        assert settings == {"in_app": True, "email": "off"}
        assert tell(app, 1, "news", "second") is not None  # in-app still made
        assert [e.subject for e in emails(app, 1)] == ["News first"]  # but no mail

        # Person 2 wants news in a daily digest at 00:00 UTC (so it is due at once).
        client.put(
            URL,
            headers=identity_headers(app, 2),
            json={"categories": {"news": {"in_app": True, "email": "daily"}}, "digest_hour": 0, "timezone": "UTC"},
        )
        for key in ("d1", "d2", "d3"):
            tell(app, 2, "news", key)
        assert [e.status for e in emails(app, 2)] == ["held"] * 3
        celery = app.extensions["celery"]
        celery.send_task(SEND_DAILY_DIGESTS, queue="notify")
        celery.send_task(SEND_DAILY_DIGESTS, queue="notify")  # twice: still one bundle
        wait_until(lambda: len(mails(tmp_path / "mail")) == 2, timeout=60, what=f"digest\n{worker.output()[-3000:]}")
        tell(app, 1, "account", "sentinel")  # queued after both runs: once it arrives, they are done
        wait_until(lambda: len(mails(tmp_path / "mail")) == 3, timeout=60, what="the sentinel mail")
        bundle = next(m for m in mails(tmp_path / "mail") if m["X-RcptTo"] == "user2@example.org")
        assert bundle["Subject"].startswith("Your Insight Days digest for ") and "3 updates" in bundle["Subject"]
        text = bundle.get_body(preferencelist=("plain",)).get_content()
        assert text.index("News d1") < text.index("News d2") < text.index("News d3")
        assert "/unsubscribe/" in text  # a stop link per category held in it
        assert [e.status for e in emails(app, 2)][:3] == ["bundled"] * 3
        assert len([m for m in mails(tmp_path / "mail") if m["X-RcptTo"] == "user2@example.org"]) == 1
    finally:
        worker.stop()
        sink.stop()


def test_the_digest_waits_for_the_persons_hour_in_their_timezone(app: Flask) -> None:
    db = app.extensions["db"]
    app.test_client().put(
        URL,
        headers=identity_headers(app, 1),
        json={"categories": {"news": {"in_app": True, "email": "daily"}}, "digest_hour": 9, "timezone": "Asia/Tokyo"},
    )
    tell(app, 1, "news", "x")
    public, secret = "http://127.0.0.1:8000", "s"
    # 23:30 UTC is 08:30 in Tokyo: not yet; 00:05 UTC is 09:05 there: now, once.
    assert digest.bundle(db, 1, datetime(2026, 12, 1, 23, 30, tzinfo=UTC), public, secret) is None
    assert digest.bundle(db, 1, datetime(2026, 12, 2, 0, 5, tzinfo=UTC), public, secret) is not None
    tell(app, 1, "news", "y")  # held after today's bundle: waits for tomorrow's
    assert digest.bundle(db, 1, datetime(2026, 12, 2, 5, 0, tzinfo=UTC), public, secret) is None
    assert digest.bundle(db, 1, datetime(2026, 12, 3, 0, 5, tzinfo=UTC), public, secret) is not None
    statuses = [(e.category, e.status) for e in emails(app, 1)]
    assert statuses == [("news", "bundled"), ("digest", "queued"), ("news", "bundled"), ("digest", "queued")]
