"""The agenda's timeline and its now/next banner (services/gateway/domain/agenda.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.gateway.domain.agenda import day_items, now_and_next, parse_utc

SLOTS = [
    {"id": 1, "kind": "posters", "starts_at": "2030-06-03T09:00:00+00:00", "ends_at": "2030-06-03T10:00:00+00:00"},
    {"id": 2, "kind": "breakout", "starts_at": "2030-06-03T10:30:00+00:00", "ends_at": "2030-06-03T11:30:00+00:00"},
]
BREAKOUTS = [{"id": 7, "slot_id": 2, "title": "Linkage"}, {"id": 8, "slot_id": 2, "title": "Consent"}]
SCHEDULE = {
    "published": True,
    "breakouts": [{"breakout_id": 7, "slot_id": 2, "title": "Linkage", "theme": "data linkage", "reason": "Your #1",
                   "starts_at": "2030-06-03T10:30:00+00:00", "ends_at": "2030-06-03T11:30:00+00:00",
                   "meeting_url": "javascript:alert(1)"}],  # fmt: skip
    "chats": [{"slot_id": 3, "room_id": "r/1", "project_id": 5, "project_title": "Maps", "with": "Ada",
               "as_author": False, "starts_at": "2030-06-03T09:15:00+00:00",
               "ends_at": "2030-06-03T09:30:00+00:00"}],  # fmt: skip
    "coffee": [],
}
ROUNDS = [
    {"id": 4, "slot_id": None, "starts_at": "2030-06-03T12:00:00+00:00", "ends_at": "2030-06-03T12:15:00+00:00",
     "me": {"opted_in": True}},  # fmt: skip
]


def _items():  # type: ignore[no-untyped-def]
    return day_items(1, SLOTS, BREAKOUTS, SCHEDULE, ROUNDS)


def test_timeline_in_time_order_with_my_items_first_at_the_same_time() -> None:
    items = _items()
    assert [(i.kind, i.mine) for i in items] == [
        ("posters", False),
        ("my_chat", True),
        ("my_breakout", True),
        ("breakout", False),
        ("coffee_round", True),
    ]
    breakout_slot = items[3]
    assert breakout_slot.detail == "2 breakouts: Consent, Linkage"
    mine = items[2]
    assert mine.title == "Your breakout: Linkage"
    assert mine.link == "/events/1/my-schedule"  # a javascript: meeting link is never offered
    assert items[1].title == "Chat with Ada about Maps" and items[1].link == "/chats/r%2F1"  # the room, escaped


def test_now_and_next() -> None:
    items = _items()
    starts, ends = parse_utc("2030-06-03T08:00:00Z"), parse_utc("2030-06-03T17:00:00Z")
    during = now_and_next(items, datetime(2030, 6, 3, 9, 20, tzinfo=UTC), starts, ends)
    assert during.state == "during"
    assert [i.kind for i in during.now] == ["posters", "my_chat"]
    assert during.next is not None and during.next.kind == "my_breakout"  # mine before the slot at the same time
    gap = now_and_next(items, datetime(2030, 6, 3, 10, 10, tzinfo=UTC), starts, ends)
    assert gap.now == () and gap.next is not None and gap.next.starts_at.hour == 10
    before = now_and_next(items, datetime(2030, 6, 3, 7, 0, tzinfo=UTC), starts, ends)
    assert before.state == "before" and before.next is not None and before.next.kind == "posters"
    after = now_and_next(items, datetime(2030, 6, 3, 18, 0, tzinfo=UTC), starts, ends)
    assert after.state == "after" and after.next is None and after.now == ()
