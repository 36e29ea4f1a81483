"""Chat slots' pure rules: 5-minute cells, a new slot's times, who may book, the per-day seats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.gateway.routes import owner_of
from services.matching.chat_slots.domain import (
    Refused,
    SlotError,
    SlotState,
    cell_of,
    cells,
    check_bookable,
    check_changeable,
    free_seat,
    plan_slot,
)

DAY = (datetime(2030, 6, 3, 8, tzinfo=UTC), datetime(2030, 6, 3, 17, tzinfo=UTC))
NOW = datetime(2030, 6, 1, tzinfo=UTC)


def test_cells_are_five_minute_steps_and_overlap_means_a_shared_cell() -> None:
    start = datetime(2030, 6, 3, 9, 0, tzinfo=UTC)
    first = cells(start, start + timedelta(minutes=15))
    assert len(first) == 3 and first == sorted(first) and first[1] == first[0] + 1
    back_to_back = cells(start + timedelta(minutes=15), start + timedelta(minutes=20))
    overlapping = cells(start + timedelta(minutes=10), start + timedelta(minutes=20))
    assert not set(first) & set(back_to_back)
    assert set(first) & set(overlapping)
    # the same instant in another offset is the same cell
    assert cell_of(datetime(2030, 6, 3, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == first[0]
    with pytest.raises(ValueError):
        cell_of(start + timedelta(minutes=2))


def test_plan_slot_accepts_marks_inside_the_day_and_names_the_bad_field() -> None:
    nepal = timezone(timedelta(hours=5, minutes=45))  # a 45-minute offset still lands on 5-minute marks
    planned = plan_slot(datetime(2030, 6, 3, 14, 45, tzinfo=nepal), 30, *DAY, NOW)
    assert (planned.starts_at, planned.minutes) == (datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 30)
    assert planned.ends_at - planned.starts_at == timedelta(minutes=30) and len(planned.cells) == 6
    for starts_at, minutes, field in [
        (datetime(2030, 6, 3, 9, 0), 15, "starts_at"),  # naive
        (datetime(2030, 6, 3, 9, 1, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 6, 3, 9, 0, 1, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 6, 3, 7, 55, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 6, 3, 16, 50, tzinfo=UTC), 15, "starts_at"),
        (datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 4, "minutes"),
        (datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 12, "minutes"),
        (datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 35, "minutes"),
    ]:
        with pytest.raises(SlotError) as refused:
            plan_slot(starts_at, minutes, *DAY, NOW)
        assert refused.value.field == field, (starts_at, minutes)
    with pytest.raises(SlotError):
        plan_slot(datetime(2030, 6, 3, 9, 0, tzinfo=UTC), 15, *DAY, datetime(2030, 6, 3, 9, 0, tzinfo=UTC))


def test_who_may_book_and_cancel() -> None:
    slot = SlotState(author_id=10, starts_at=datetime(2030, 6, 3, 9, tzinfo=UTC), cancelled=False)
    check_bookable(slot, 20, NOW)
    check_changeable(slot, NOW)
    cases = [
        (slot, 10, NOW, "own_slot", 403),
        (SlotState(10, slot.starts_at, cancelled=True), 20, NOW, "cancelled", 409),
        (slot, 20, slot.starts_at, "past", 409),
    ]
    for state, person, now, code, status in cases:
        with pytest.raises(Refused) as refused:
            check_bookable(state, person, now)
        assert (refused.value.code, refused.value.status) == (code, status)
    with pytest.raises(Refused):
        check_changeable(slot, slot.starts_at + timedelta(minutes=1))


def test_seats_fill_the_lowest_free_number_up_to_the_cap() -> None:
    assert free_seat(set(), 3) == 1
    assert free_seat({1, 3}, 3) == 2
    assert free_seat({1, 2, 3}, 3) is None
    assert free_seat({5}, 3) == 1  # seats above a lowered cap do not block the lower ones


def test_my_chat_bookings_are_routed_to_matching() -> None:
    assert owner_of("/api/v1/me/chat-bookings") == "matching"
    assert owner_of("/api/v1/chat-slots/3/waitlist") == "matching"
    assert owner_of("/api/v1/me/notifications") == "notify"
