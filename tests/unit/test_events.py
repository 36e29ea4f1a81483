"""Message schemas: JSON round trip, typed parsing, forward compatibility."""

from __future__ import annotations

import json

import pytest

from shared.events import Envelope, EventCreated, UnknownEventType, UserRegistered


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
