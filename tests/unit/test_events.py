"""Message schemas: JSON round trip, typed parsing, forward compatibility."""

from __future__ import annotations

import json

import pytest

from shared.events import (
    Envelope,
    EventCreated,
    ProjectDeleted,
    ProjectUpdated,
    ThesaurusUpdated,
    UnknownEventType,
    UserRegistered,
    is_newer,
)


def test_envelope_round_trips_through_json() -> None:
    sent = EventCreated(3, "Day", "2026-12-01T09:00:00+00:00", "2026-12-01T17:00:00+00:00", "UTC", 9).envelope()
    wire = json.loads(sent.to_json())
    assert set(wire) == {"event_id", "type", "occurred_at", "version", "payload"}
    assert wire["type"] == "EventCreated"
    received = Envelope.from_json(sent.to_json())
    assert received == sent
    assert received.parse() == EventCreated(
        3, "Day", "2026-12-01T09:00:00+00:00", "2026-12-01T17:00:00+00:00", "UTC", 9
    )


def test_every_envelope_gets_its_own_id() -> None:
    a = UserRegistered(1, "a@x.org", "A", "O", "R", ["attendee"]).envelope()
    b = UserRegistered(1, "a@x.org", "A", "O", "R", ["attendee"]).envelope()
    assert a.event_id != b.event_id


def test_unknown_payload_fields_are_ignored_so_producers_can_add_fields_first() -> None:
    env = UserRegistered(1, "a@x.org", "A", "O", "R", ["attendee"]).envelope()
    newer = Envelope(type=env.type, payload={**env.payload, "pronouns": "they"}, event_id=env.event_id)
    assert newer.parse() == env.parse()


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(UnknownEventType):
        Envelope(type="SomethingElse", payload={}).parse()


def test_an_envelope_without_revision_still_parses() -> None:
    """Events recorded before `revision` existed (still in an outbox or on the stream) parse with revision None."""
    wire = {
        "event_id": "7f1c9c1e-0000-4000-8000-000000000001",
        "type": "ProjectUpdated",
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "version": 1,
        "payload": {"project_id": 5, "event_id": 1, "owner_id": 10, "title": "T", "themes": ["a"], "hidden": True},
    }
    event = Envelope.from_json(json.dumps(wire)).parse()
    assert event == ProjectUpdated(project_id=5, event_id=1, owner_id=10, title="T", themes=["a"], hidden=True)
    assert event.revision is None
    for cls, payload in [
        (
            EventCreated,
            {"event_id": 1, "title": "D", "starts_at": "", "ends_at": "", "timezone": "UTC", "organiser_id": 2},
        ),
        (ThesaurusUpdated, {"event_id": 1, "themes": []}),
        (ProjectDeleted, {"project_id": 5, "event_id": 1, "owner_id": 10}),
    ]:
        assert Envelope(type=cls.__name__, payload=payload).parse().revision is None  # type: ignore[attr-defined]


def test_revision_is_a_payload_field_not_the_schema_version() -> None:
    envelope = ProjectDeleted(project_id=5, event_id=1, owner_id=10, revision=4).envelope()
    assert envelope.payload["revision"] == 4 and envelope.version == 1
    assert Envelope.from_json(envelope.to_json()).parse() == ProjectDeleted(5, 1, 10, revision=4)


@pytest.mark.parametrize(
    ("revision", "stored", "applied"),
    [(2, 1, True), (1, 2, False), (2, 2, False), (1, None, True), (None, 5, True), (None, None, True)],
)
def test_only_newer_revisions_are_applied(revision: int | None, stored: int | None, applied: bool) -> None:
    assert is_newer(revision, stored) is applied
