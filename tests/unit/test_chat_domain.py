"""Chat room rules (pure): who may see a room, what a message may be, when writing closes, action owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.chat import domain
from services.gateway.chat.domain import ChatRuleError, Room

NOW = datetime(2030, 6, 3, 9, 10, tzinfo=UTC)


def room(**changes: object) -> Room:
    base = {"id": "r1", "kind": "booked", "status": "open", "author_id": 1, "attendee_id": 2,
            "starts_at": NOW - timedelta(minutes=10), "ends_at": NOW + timedelta(minutes=5)}  # fmt: skip
    base.update(changes)
    return Room(**base)  # type: ignore[arg-type]


def test_only_participants_and_organisers_get_in() -> None:
    assert domain.access_of(room(), 1, False) == "participant"
    assert domain.access_of(room(), 2, True) == "participant"
    assert domain.access_of(room(), 3, True) == "organiser"
    assert domain.access_of(room(), 3, False) is None


@pytest.mark.parametrize("raw", ["", "   \n\t ", None, 42, ["x"]])
def test_empty_or_non_text_messages_are_refused(raw: object) -> None:
    with pytest.raises(ChatRuleError) as caught:
        domain.clean_text(raw)
    assert caught.value.field == "text" and caught.value.code == "invalid"


def test_the_length_limit_counts_what_is_stored_and_says_so() -> None:
    assert domain.clean_text("  " + "x" * 2000 + "\n") == "x" * 2000
    with pytest.raises(ChatRuleError) as caught:
        domain.clean_text("x" * 10_000)
    assert caught.value.code == "too_long" and "2,000" in caught.value.message and "10,000" in caught.value.message


def test_markup_is_kept_as_text_and_control_characters_dropped() -> None:
    assert domain.clean_text("<script>alert(1)</script>") == "<script>alert(1)</script>"
    assert domain.clean_text("a\r\nb\x00c\x1b[31m") == "a\nbc[31m"


@pytest.mark.parametrize("client_id", ["", "x" * 65, "has space", "semi;colon", None, 7])
def test_client_ids_are_short_plain_tokens(client_id: object) -> None:
    with pytest.raises(ChatRuleError):
        domain.check_client_id(client_id)
    assert domain.check_client_id("2f0c-aa:1.b_") == "2f0c-aa:1.b_"


def test_writing_closes_at_the_slot_end_on_cancel_and_when_an_ama_closes() -> None:
    assert domain.writing_closed_reason(room(), NOW) is None
    assert domain.writing_closed_reason(room(), NOW + timedelta(minutes=5)) == "ended"
    assert domain.writing_closed_reason(room(status="cancelled"), NOW) == "cancelled"
    ama = room(kind="ama", starts_at=None, ends_at=None)
    assert domain.writing_closed_reason(ama, NOW + timedelta(days=400)) is None
    assert domain.writing_closed_reason(ama, NOW, ama_open=False) == "closed"
    with pytest.raises(ChatRuleError) as caught:
        domain.check_writable(room(), NOW + timedelta(hours=1))
    assert caught.value.status == 409 and caught.value.code == "ended"


def test_countdown_seconds() -> None:
    assert domain.seconds_left(room(), NOW) == 300
    assert domain.seconds_left(room(), NOW + timedelta(hours=2)) == 0
    assert domain.seconds_left(room(ends_at=None), NOW) is None


def test_follow_up_owner_is_one_of_the_two() -> None:
    assert domain.action_owner(room(), noted_by=2, owner_id=None) == 2
    assert domain.action_owner(room(), noted_by=2, owner_id=1) == 1
    with pytest.raises(ChatRuleError) as caught:
        domain.action_owner(room(), noted_by=2, owner_id=3)
    assert caught.value.field == "owner_id"
    with pytest.raises(ChatRuleError):
        domain.clean_action_text("x" * 301)


def test_held_needs_both_participants() -> None:
    assert not domain.both_participants_wrote(room(), {1})
    assert not domain.both_participants_wrote(room(), {1, 3})
    assert domain.both_participants_wrote(room(), {1, 2, 3})
    assert domain.new_ama_room_id().startswith("ama-") and domain.new_ama_room_id() != domain.new_ama_room_id()
