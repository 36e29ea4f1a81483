"""The transactional outbox: nothing published on rollback, exactly once on commit even if the relay dies."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from services.matching.adapters.orm import InsightDayRow, Outbox
from services.matching.domain.insight_day import Schedule
from services.matching.service import create_insight_day
from shared import outbox
from shared.bus import EVENTS_STREAM, Publisher
from shared.events import Envelope, EventCreated
from shared.outbox import OutboxRelay
from tests.support.processes import RedisServer, flask_command, service_env, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _schedule() -> Schedule:
    return Schedule.of(START, START + timedelta(hours=8), "Europe/London")


def _stream_event_ids(redis_server: RedisServer) -> list[str]:
    return [json.loads(f["event"])["event_id"] for _id, f in redis_server.client().xrange(EVENTS_STREAM)]


def test_rolled_back_transaction_publishes_nothing(make_app, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    db = app.extensions["db"]
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        row = InsightDayRow(title="Doomed", starts_at=START, ends_at=START, timezone="UTC", organiser_id=1)
        session.add(row)
        session.flush()
        outbox.record(session, Outbox, EventCreated(row.id, "Doomed", "", "", "UTC", 1))
        raise RuntimeError("the change fails after the event was recorded")

    relay = OutboxRelay(db, Outbox, app.extensions["publisher"])
    assert relay.relay_once() == 0
    assert _stream_event_ids(redis_server) == []
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InsightDayRow)) == 0


def test_committed_change_is_published_once(make_app, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    db = app.extensions["db"]
    day = create_insight_day(db, organiser_id=5, title="Health data day", schedule=_schedule())
    relay = OutboxRelay(db, Outbox, app.extensions["publisher"])
    assert relay.relay_once() == 1
    assert relay.relay_once() == 0
    [raw] = redis_server.client().xrange(EVENTS_STREAM)
    event = Envelope.from_json(raw[1]["event"]).parse()
    assert isinstance(event, EventCreated)
    assert (event.event_id, event.title, event.organiser_id) == (day.id, "Health data day", 5)


def test_relay_dying_between_publish_and_mark_does_not_duplicate(make_app, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("matching")
    db = app.extensions["db"]
    create_insight_day(db, organiser_id=1, title="Day", schedule=_schedule())

    class Died(BaseException):
        pass

    def die(_envelope: Envelope) -> None:
        raise Died  # the process ends right after XADD, before the row is marked published

    with pytest.raises(Died):
        OutboxRelay(db, Outbox, app.extensions["publisher"], after_publish=die).relay_once()
    with db.unit_of_work() as session:
        assert session.scalar(select(Outbox.published_at)) is None  # still looks unpublished
    assert OutboxRelay(db, Outbox, Publisher(redis_server.client())).relay_once() == 1  # the restarted relay
    assert len(_stream_event_ids(redis_server)) == 1


def test_relay_process_killed_midway_publishes_every_event_exactly_once(
    make_app,
    redis_server: RedisServer,
    service_environment: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    app: Flask = make_app("matching")
    db = app.extensions["db"]
    total = 1000
    with db.unit_of_work() as session:
        for i in range(total):
            outbox.record(session, Outbox, EventCreated(i, f"Day {i}", "", "", "UTC", 1))

    env = service_env(redis_server.url, service_environment)
    first = flask_command("matching", "bus", env, tmp_path)
    wait_until(lambda: len(_stream_event_ids(redis_server)) >= 20, timeout=60, what="first events relayed")
    first.kill(signal.SIGKILL)
    published_when_killed = len(_stream_event_ids(redis_server))
    second = flask_command("matching", "bus", env, tmp_path)
    try:
        wait_until(lambda: len(_stream_event_ids(redis_server)) >= total, timeout=120, what="all events relayed")
        wait_until(lambda: _unpublished(db) == 0, timeout=30, what="outbox drained")
    finally:
        second.stop()
    ids = _stream_event_ids(redis_server)
    assert published_when_killed < total  # it really died mid-way
    assert len(ids) == len(set(ids)) == total


def _unpublished(db) -> int:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Outbox).where(Outbox.published_at.is_(None)))
