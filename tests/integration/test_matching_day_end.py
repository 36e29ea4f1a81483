"""The day's end in matching: `EventEnded` is recorded once per insight day, in the transaction that marks it
announced, with the day's attendees and those who allow contact; the named beat task runs in a real worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from services.matching.adapters.orm import Outbox
from services.matching.day_end import service
from services.matching.day_end.models import DayEndAnnouncement
from services.matching.day_end.tasks import ANNOUNCE_ENDED_DAYS, QUEUE
from shared.events import Envelope, EventEnded, utcnow
from tests.support.processes import celery_worker, service_env, wait_until

pytestmark = pytest.mark.integration

ORGANISER = 1
ENDS = datetime(2030, 6, 3, 17, 0, tzinfo=UTC)


def _day(app: Flask, headers: dict[str, str], ends_at: datetime, title: str = "Day end") -> int:
    body = {
        "title": title,
        "starts_at": (ends_at - timedelta(hours=8)).isoformat(),
        "ends_at": ends_at.isoformat(),
        "timezone": "Europe/Paris",
    }
    response = app.test_client().post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _ended_events(app: Flask) -> list[EventEnded]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "EventEnded").order_by(Outbox.id)).all()
        return [Envelope.from_json(r.body).parse() for r in rows]  # type: ignore[misc]


def test_a_day_is_announced_once_after_its_end_with_who_allows_contact(make_app, as_user) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    client = app.test_client()
    organiser = as_user(app, ORGANISER, "organiser")
    day = _day(app, organiser, ENDS)
    other_day = _day(app, organiser, ENDS + timedelta(days=1), "Tomorrow")
    assert (
        client.put(f"/api/v1/events/{day}/thesaurus", json={"themes": ["privacy"]}, headers=organiser).status_code
        == 200
    )
    for user_id in (11, 12):
        headers = as_user(app, user_id, "attendee")
        assert (
            client.put(f"/api/v1/events/{day}/registration", json={"themes": ["privacy"]}, headers=headers).status_code
            == 200
        )
    hidden = {name: {"value": "", "visibility": "nobody"} for name in ("organisation", "region")}
    response = client.put("/api/v1/me/profile", json=hidden, headers=as_user(app, 12, "attendee"))
    assert response.status_code == 200, response.json
    db = app.extensions["db"]

    assert service.announce_due_days(db, ENDS - timedelta(seconds=1)) == []
    assert _ended_events(app) == []

    assert service.announce_due_days(db, ENDS + timedelta(seconds=5)) == [day]
    # A second tick, and a direct second try (another beat racing), change nothing.
    assert service.announce_due_days(db, ENDS + timedelta(seconds=35)) == []
    assert service.announce(db, day, ENDS + timedelta(seconds=40)) is False

    [ended] = _ended_events(app)
    assert (ended.event_id, ended.title, ended.timezone) == (day, "Day end", "Europe/Paris")
    assert datetime.fromisoformat(ended.ended_at) == ENDS
    assert ended.attendee_ids == [11, 12]
    assert ended.contactable_user_ids == [11]  # 12 hides every field from other attendees

    assert service.announce_due_days(db, ENDS + timedelta(days=1, seconds=1)) == [other_day]
    assert [e.event_id for e in _ended_events(app)] == [day, other_day]


def test_a_day_that_ended_long_ago_is_marked_without_a_digest(make_app, as_user) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    day = _day(app, as_user(app, ORGANISER, "organiser"), ENDS)
    db = app.extensions["db"]
    assert service.announce_due_days(db, ENDS + timedelta(days=30)) == []
    with db.unit_of_work() as session:
        row = session.get(DayEndAnnouncement, day)
        assert row is not None and row.skipped
    assert _ended_events(app) == []


def test_the_beat_task_announces_in_a_real_worker_once(
    make_app, as_user, redis_url: str, service_environment: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("matching")
    day = _day(app, as_user(app, ORGANISER, "organiser"), utcnow() - timedelta(minutes=1))
    worker = celery_worker("matching", service_env(redis_url, service_environment), tmp_path)
    try:
        celery = app.extensions["celery"]
        celery.send_task(ANNOUNCE_ENDED_DAYS, queue=QUEUE)
        celery.send_task(ANNOUNCE_ENDED_DAYS, queue=QUEUE)
        # One worker process takes the tasks in order: once a day created now is announced by a third task, the
        # first two have run.
        sentinel = _day(app, as_user(app, ORGANISER, "organiser"), utcnow() - timedelta(seconds=1), "Sentinel")
        celery.send_task(ANNOUNCE_ENDED_DAYS, queue=QUEUE)
        wait_until(lambda: len(_ended_events(app)) == 2, timeout=60, what="two EventEnded")
    except Exception:
        print(worker.output()[-4000:])
        raise
    finally:
        worker.stop()
    assert [e.event_id for e in _ended_events(app)] == [day, sentinel]
