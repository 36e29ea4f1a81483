"""Stage 1: the posters service learns about insight days only from EventCreated on the real Redis stream."""

from __future__ import annotations

import pytest

from services.posters.consumers import handlers
from shared.bus import Consumer, Publisher, connect
from tests.fixtures.posters.helpers import author, event_created, project_body

pytestmark = pytest.mark.integration


def test_event_created_on_the_stream_lets_authors_create_projects(make_app):  # type: ignore[no-untyped-def]
    app = make_app("posters", RATE_LIMITS=False)
    client = app.test_client()
    refused = client.post("/api/v1/events/7/projects", json=project_body(), headers=author(app))
    assert refused.status_code == 404
    assert refused.get_json()["error"]["field"] == "event_id"

    redis = connect(app.config["REDIS_URL"])
    Publisher(redis).publish(event_created(7, "Spring insight day").envelope())
    consumer = Consumer(redis, "posters", handlers(app), block_ms=100)
    consumer.ensure_group()
    with app.app_context():
        assert consumer.run_once() == 1
    assert consumer.stats.handled == 1

    created = client.post("/api/v1/events/7/projects", json=project_body(), headers=author(app))
    assert created.status_code == 201, created.get_json()
    project_id = created.get_json()["id"]
    fetched = client.get(f"/api/v1/projects/{project_id}", headers=author(app))
    assert fetched.status_code == 200
    assert fetched.get_json()["event_id"] == 7
    assert fetched.get_json()["learnings"] == project_body()["learnings"]


def test_redelivered_event_changes_nothing_twice(make_app):  # type: ignore[no-untyped-def]
    from services.posters.adapters.orm import KnownEvent, ProcessedEvent

    app = make_app("posters", RATE_LIMITS=False)
    envelope = event_created(3, "Autumn day").envelope()
    apply = handlers(app)["EventCreated"]
    apply(envelope)
    apply(envelope)  # at-least-once delivery: the same event again
    with app.extensions["db"].unit_of_work() as session:
        assert session.get(KnownEvent, 3).title == "Autumn day"
        assert session.query(ProcessedEvent).count() == 1


def test_event_updates_and_thesaurus_reach_the_local_copy(make_app):  # type: ignore[no-untyped-def]
    from shared.events import EventUpdated, ThesaurusUpdated

    app = make_app("posters", RATE_LIMITS=False)
    apply = handlers(app)
    with pytest.raises(LookupError):  # thesaurus before its event: left pending for a retry
        apply["ThesaurusUpdated"](ThesaurusUpdated(event_id=5, themes=["Privacy"]).envelope())
    apply["EventCreated"](event_created(5, "Day").envelope())
    apply["EventUpdated"](
        EventUpdated(
            event_id=5,
            title="Renamed day",
            starts_at="2026-06-01T08:00:00+00:00",
            ends_at="2026-06-01T15:00:00+00:00",
            timezone="Europe/Paris",
            organiser_id=1,
        ).envelope()
    )
    apply["ThesaurusUpdated"](ThesaurusUpdated(event_id=5, themes=["Data linkage", "Privacy"]).envelope())
    client = app.test_client()
    refused = client.post("/api/v1/events/5/projects", json=project_body(themes=["Astrology"]), headers=author(app))
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "themes"
    accepted = client.post("/api/v1/events/5/projects", json=project_body(themes=["privacy"]), headers=author(app))
    assert accepted.status_code == 201 and accepted.get_json()["themes"] == ["Privacy"]
    from services.posters.adapters.orm import KnownEvent

    with app.extensions["db"].unit_of_work() as session:
        event = session.get(KnownEvent, 5)
        assert (event.title, event.timezone) == ("Renamed day", "Europe/Paris")


def _day(cls, revision, title):  # type: ignore[no-untyped-def]
    return cls(
        event_id=5,
        title=title,
        starts_at="2026-06-01T08:00:00+00:00",
        ends_at="2026-06-01T15:00:00+00:00",
        timezone="Europe/Paris",
        organiser_id=1,
        revision=revision,
    ).envelope()


def test_a_late_older_event_update_does_not_overwrite_a_newer_one(make_app):  # type: ignore[no-untyped-def]
    from services.posters.adapters.orm import KnownEvent, ProcessedEvent
    from shared.events import EventCreated, EventUpdated

    app = make_app("posters", RATE_LIMITS=False)
    apply = handlers(app)
    apply["EventCreated"](_day(EventCreated, 1, "Day"))
    apply["EventUpdated"](_day(EventUpdated, 3, "Day v3"))
    apply["EventUpdated"](_day(EventUpdated, 2, "Day v2"))  # failed first, retried after v3
    apply["EventCreated"](_day(EventCreated, 1, "Day"))  # a redelivered creation (new id: not deduplicated)
    with app.extensions["db"].unit_of_work() as session:
        event = session.get(KnownEvent, 5)
        assert (event.title, event.revision) == ("Day v3", 3)
        assert session.query(ProcessedEvent).count() == 4  # skipped ones count as handled: not retried again
    apply["EventUpdated"](_day(EventUpdated, 4, "Day v4"))
    with app.extensions["db"].unit_of_work() as session:
        assert session.get(KnownEvent, 5).title == "Day v4"


def test_a_late_older_thesaurus_does_not_overwrite_a_newer_one(make_app):  # type: ignore[no-untyped-def]
    from services.posters.adapters.orm import KnownEvent
    from shared.events import EventCreated, EventUpdated, ThesaurusUpdated

    app = make_app("posters", RATE_LIMITS=False)
    apply = handlers(app)
    apply["EventCreated"](_day(EventCreated, 1, "Day"))
    apply["ThesaurusUpdated"](ThesaurusUpdated(event_id=5, themes=["Privacy", "Genomics"], revision=2).envelope())
    apply["ThesaurusUpdated"](ThesaurusUpdated(event_id=5, themes=["Privacy"], revision=1).envelope())
    # The thesaurus has its own counter: a day update at a lower number leaves it alone, and vice versa.
    apply["EventUpdated"](_day(EventUpdated, 2, "Renamed"))
    with app.extensions["db"].unit_of_work() as session:
        event = session.get(KnownEvent, 5)
        assert (event.thesaurus, event.thesaurus_revision) == (["Privacy", "Genomics"], 2)
        assert (event.title, event.revision) == ("Renamed", 2)
    client = app.test_client()
    created = client.post("/api/v1/events/5/projects", json=project_body(themes=["genomics"]), headers=author(app))
    assert created.status_code == 201 and created.get_json()["themes"] == ["Genomics"]
