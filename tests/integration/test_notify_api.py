"""Notify service with a real Redis: events in through the stream, notifications out through the API."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from services.notify import service
from services.notify.adapters.orm import Email, KnownEvent, Notification, ProcessedEvent, Recipient
from services.notify.adapters.push import Pusher
from services.notify.consumers import handlers
from services.notify.domain import messages, rules
from services.notify.tasks import QUEUE
from shared.bus import Consumer, Publisher
from shared.events import Envelope, EventCreated, EventUpdated, PosterReady, PosterRejected, UserRegistered, utcnow
from tests.conftest import identity_headers
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


def registered(user_id: int, name: str = "Ada Lovelace") -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=f"user{user_id}@example.org",
        display_name=name,
        organisation="Org A",
        region="North",
        roles=["attendee"],
    ).envelope()


def consume(app: Flask, *envelopes: Envelope, raw: bool = False) -> Consumer:
    """Publish to the real stream and let a consumer of group "notify" handle everything there."""
    consumer = Consumer(app.extensions["redis"], "notify", handlers(app), claim_idle_ms=60_000)
    consumer.ensure_group()
    publisher = Publisher(app.extensions["redis"])
    for envelope in envelopes:
        publisher.publish_raw(envelope) if raw else publisher.publish(envelope)
    while consumer.run_once(block_ms=50):
        pass
    return consumer


def count(app: Flask, model: type, *where: object) -> int:
    with app.extensions["db"].unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("notify")


def test_user_registered_gives_a_welcome_readable_through_the_api(app: Flask) -> None:
    pubsub = app.extensions["redis"].pubsub()
    pubsub.subscribe("flask-socketio")  # the channel the gateway's Socket.IO server listens on
    consumer = consume(app, registered(42))
    assert consumer.stats.handled == 1

    client = app.test_client()
    body = client.get("/api/v1/me/notifications", headers=identity_headers(app, 42)).get_json()
    assert body["unread_count"] == 1 and body["page"] == 1 and body["has_more"] is False
    [item] = body["items"]
    assert item["kind"] == "welcome" and item["title"] == "Welcome to Insight Days, Ada Lovelace"
    assert item["read"] is False and item["link"] == "/"
    # Only the owner sees it.
    other = client.get("/api/v1/me/notifications", headers=identity_headers(app, 43)).get_json()
    assert other == {"items": [], "unread_count": 0, "page": 1, "has_more": False}

    with app.extensions["db"].unit_of_work() as session:
        recipient = session.get(Recipient, 42)
        assert recipient is not None and recipient.email == "user42@example.org" and recipient.region == "North"
        email = session.scalars(select(Email)).one()
        assert email.to_address == "user42@example.org" and email.status == rules.QUEUED
        assert email.subject == item["title"]

    # After the commit the send task was enqueued on the "notify" queue, by name, with the email id.
    [raw_task] = app.extensions["redis"].lrange(QUEUE, 0, -1)
    task = json.loads(raw_task)
    assert task["headers"]["task"] == "notify.send_email"
    assert task["headers"]["argsrepr"] == f"[{email.id}]"

    # ... and the live push went to the user's room in /chat.
    pushes = []
    while (message := pubsub.get_message(timeout=1.0)) is not None:
        if message["type"] == "message":
            pushes.append(json.loads(message["data"]))
    [push] = pushes
    assert push["event"] == "notification" and push["room"] == "user:42" and push["namespace"] == "/chat"
    assert push["data"] == [{k: item[k] for k in ("id", "kind", "title", "body", "link", "created_at")}]


def test_the_same_event_twice_gives_one_notification_and_one_email(app: Flask) -> None:
    envelope = registered(7)
    consumer = consume(app, envelope, envelope, raw=True)  # two stream entries, one event_id
    assert consumer.stats.handled == 2
    handlers(app)["UserRegistered"](envelope)  # and a third, straight to the handler
    assert count(app, Notification) == 1
    assert count(app, Email) == 1
    assert count(app, ProcessedEvent) == 1


def test_a_failed_push_does_not_lose_the_notification(app: Flask) -> None:
    # Nothing listens on this port: the Socket.IO message queue is unreachable.
    app.extensions["notify_pusher"] = Pusher(f"redis://127.0.0.1:{free_port()}/0")
    consume(app, registered(9))
    assert count(app, Notification, Notification.user_id == 9) == 1
    assert count(app, Email, Email.status == rules.QUEUED) == 1


def test_insight_days_are_copied_from_matching_events(app: Flask) -> None:
    fields = {"title": "Spring day", "timezone": "Europe/London", "organiser_id": 1}
    created = EventCreated(
        event_id=5, starts_at="2026-05-04T08:00:00+00:00", ends_at="2026-05-04T16:00:00+00:00", **fields
    )
    updated = EventUpdated(
        event_id=5,
        starts_at="2026-05-05T09:00:00+01:00",
        ends_at="2026-05-05T17:00:00+01:00",
        **{**fields, "title": "Spring day (moved)"},
    )
    consume(app, created.envelope(), updated.envelope())
    with app.extensions["db"].unit_of_work() as session:
        day = session.get(KnownEvent, 5)
        assert day is not None and day.title == "Spring day (moved)" and day.timezone == "Europe/London"
        assert day.starts_at.replace(tzinfo=None).isoformat() == "2026-05-05T08:00:00"  # stored in UTC
    assert count(app, KnownEvent) == 1


def test_a_late_older_insight_day_update_does_not_overwrite_a_newer_one(app: Flask) -> None:
    def day(cls: type, revision: int | None, title: str, starts_at: str) -> Envelope:
        return cls(
            event_id=5,
            title=title,
            starts_at=starts_at,
            ends_at="2026-05-06T16:00:00+00:00",
            timezone="Europe/London",
            organiser_id=1,
            revision=revision,
        ).envelope()

    created = day(EventCreated, 1, "Spring day", "2026-05-04T08:00:00+00:00")
    v2 = day(EventUpdated, 2, "Spring day (moved)", "2026-05-05T08:00:00+00:00")
    v3 = day(EventUpdated, 3, "Spring day (moved again)", "2026-05-06T08:00:00+00:00")
    consumer = consume(app, created, v3, v2)  # v2 failed at first; its retry arrives after v3
    assert consumer.stats.failed == 0
    with app.extensions["db"].unit_of_work() as session:
        kept = session.get(KnownEvent, 5)
        assert kept is not None and (kept.title, kept.revision) == ("Spring day (moved again)", 3)
        assert kept.starts_at.replace(tzinfo=None).isoformat() == "2026-05-06T08:00:00"
    assert count(app, ProcessedEvent) == 3  # the skipped one is handled, not retried forever

    consume(app, day(EventUpdated, None, "Legacy update", "2026-05-06T09:00:00+00:00"))  # sent before revisions
    with app.extensions["db"].unit_of_work() as session:
        kept = session.get(KnownEvent, 5)
        assert kept is not None and (kept.title, kept.revision) == ("Legacy update", 3)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/me/notifications"),
        ("post", "/api/v1/me/notifications/1/read"),
        ("post", "/api/v1/me/notifications/read-all"),
    ],
)
def test_every_endpoint_needs_an_identity(app: Flask, method: str, path: str) -> None:
    client = app.test_client()
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    forged = getattr(client, method)(path, headers={"X-Internal-Identity": "not-a-signed-token"})
    assert forged.status_code == 401


def test_a_user_cannot_mark_another_users_notification_read(app: Flask) -> None:
    consume(app, registered(1), registered(2))
    client = app.test_client()
    [theirs] = client.get("/api/v1/me/notifications", headers=identity_headers(app, 1)).get_json()["items"]

    response = client.post(f"/api/v1/me/notifications/{theirs['id']}/read", headers=identity_headers(app, 2))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.post("/api/v1/me/notifications/99999/read", headers=identity_headers(app, 2)).status_code == 404
    # User 2's read-all leaves user 1's notification alone.
    assert client.post("/api/v1/me/notifications/read-all", headers=identity_headers(app, 2)).status_code == 200
    assert client.get("/api/v1/me/notifications", headers=identity_headers(app, 1)).get_json()["unread_count"] == 1

    own = client.post(f"/api/v1/me/notifications/{theirs['id']}/read", headers=identity_headers(app, 1))
    assert own.status_code == 200 and own.get_json()["read"] is True
    again = client.post(f"/api/v1/me/notifications/{theirs['id']}/read", headers=identity_headers(app, 1))
    assert again.get_json()["read_at"] == own.get_json()["read_at"]  # reading twice keeps the first time


def test_pages_unread_filter_and_read_all(app: Flask) -> None:
    db = app.extensions["db"]
    with db.unit_of_work() as session:
        for n in range(rules.PAGE_SIZE + 5):
            message = messages.Message("test", f"n{n}", "body", "/")
            service.add_message(session, 3, "", message, source_event_id=f"test-{n}")
    client, me = app.test_client(), identity_headers(app, 3)
    first = client.get("/api/v1/me/notifications", headers=me).get_json()
    assert len(first["items"]) == rules.PAGE_SIZE and first["has_more"] is True
    assert first["items"][0]["title"] == f"n{rules.PAGE_SIZE + 4}"  # newest first
    second = client.get("/api/v1/me/notifications?page=2", headers=me).get_json()
    assert len(second["items"]) == 5 and second["has_more"] is False
    assert count(app, Email) == 0  # no address, no email

    client.post(f"/api/v1/me/notifications/{first['items'][0]['id']}/read", headers=me)
    unread = client.get("/api/v1/me/notifications?unread=1", headers=me).get_json()
    assert unread["unread_count"] == rules.PAGE_SIZE + 4
    assert first["items"][0]["id"] not in {i["id"] for i in unread["items"]}

    done = client.post("/api/v1/me/notifications/read-all", headers=me).get_json()
    assert done == {"updated": rules.PAGE_SIZE + 4, "unread_count": 0}
    assert client.get("/api/v1/me/notifications?unread=1", headers=me).get_json()["items"] == []


@pytest.mark.parametrize("query", ["page=0", "page=abc", "unread=maybe"])
def test_bad_query_parameters_are_400(app: Flask, query: str) -> None:
    response = app.test_client().get(f"/api/v1/me/notifications?{query}", headers=identity_headers(app, 1))
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == query.split("=")[0]


def test_sweep_picks_only_emails_nobody_holds(app: Flask) -> None:
    consume(app, registered(11), registered(12), registered(13))
    db = app.extensions["db"]
    now = utcnow()
    assert service.requeue_unheld_emails(db, now) == []  # all just enqueued: within their grace lease
    with db.unit_of_work() as session:
        ids = list(session.scalars(select(Email.id).order_by(Email.id)))
        past = now - rules.ENQUEUE_GRACE
        session.execute(update(Email).where(Email.id == ids[0]).values(lease_until=past))  # enqueue lost
        session.execute(update(Email).where(Email.id == ids[1]).values(status=rules.SENDING, lease_until=past))
        session.execute(update(Email).where(Email.id == ids[2]).values(status=rules.SENT, lease_until=None))
    assert service.requeue_unheld_emails(db, now) == ids[:2]
    assert service.requeue_unheld_emails(db, now) == []  # they got a fresh grace lease
    with db.unit_of_work() as session:
        assert [e.status for e in session.scalars(select(Email).order_by(Email.id))] == ["queued", "queued", "sent"]


def test_claiming_an_email_is_exclusive(app: Flask) -> None:
    consume(app, registered(21))
    db = app.extensions["db"]
    with db.unit_of_work() as session:
        email_id = session.scalars(select(Email.id)).one()
    now = utcnow()
    assert service.claim_email(db, email_id, now) is not None
    assert service.claim_email(db, email_id, now) is None  # the first worker holds the lease
    assert service.claim_email(db, email_id, now + rules.SEND_LEASE * 2) is not None  # ... until it expires
    with db.unit_of_work() as session:
        assert session.get(Email, email_id).attempts == 2  # type: ignore[union-attr]


def test_authors_hear_how_their_uploads_went_in_app_only(app: Flask) -> None:
    ready = PosterReady(poster_id=7, project_id=3, event_id=1, owner_id=42, page_count=4).envelope()
    rejected = PosterRejected(poster_id=8, project_id=3, event_id=1, owner_id=42, reason="PDF has 500 pages").envelope()
    pubsub = app.extensions["redis"].pubsub()
    pubsub.subscribe("flask-socketio")
    consume(app, ready, rejected, ready, raw=True)  # the ready event twice: still one notification

    client = app.test_client()
    items = client.get("/api/v1/me/notifications", headers=identity_headers(app, 42)).get_json()["items"]
    by_kind = {i["kind"]: i for i in items}
    assert sorted(by_kind) == [messages.POSTER_READY, messages.POSTER_REJECTED] and len(items) == 2
    assert by_kind[messages.POSTER_READY]["link"] == "/projects/3"
    assert "4 pages" in by_kind[messages.POSTER_READY]["body"]
    assert "PDF has 500 pages" in by_kind[messages.POSTER_REJECTED]["body"]
    assert client.get("/api/v1/me/notifications", headers=identity_headers(app, 43)).get_json()["items"] == []
    assert count(app, Email) == 0  # the author is on the page; no mail for what they just did
    pushed = [m for m in iter(lambda: pubsub.get_message(timeout=1), None) if m["type"] == "message"]
    assert len(pushed) == 2  # one live push per stored notification
