"""Timetabling's pure rules: the instance format, profiles, the worded pre-check, the evaluation of a placement."""

from __future__ import annotations

import pytest

from services.matching.timetable.domain import (
    InstanceError,
    Problem,
    SessionSpec,
    SlotSpec,
    evaluate,
    parse_instance,
    precheck,
    profiles_of,
    violations,
)

SLOTS = (SlotSpec(1, 2, "slot 1"), SlotSpec(2, 1, "slot 2"), SlotSpec(3, 2, "slot 3"))


def problem(*sessions: SessionSpec, rankings: list[list[str]] | None = None, slots=SLOTS) -> Problem:  # type: ignore[no-untyped-def]
    profiles, attendees = profiles_of(rankings or [], 3)
    return Problem(tuple(slots), tuple(sessions), profiles, attendees, 3)


def test_profiles_fold_identical_top3_sets_and_sum_rank_weights() -> None:
    profiles, attendees = profiles_of([["a", "b", "c", "d"], ["c", "a", "b"], ["a", "a", "b"], []], 3)
    assert attendees == 4
    by_themes = {p.themes: p for p in profiles}
    assert by_themes[("a", "b", "c")].count == 2
    assert by_themes[("a", "b", "c")].weights == (3 + 2, 2 + 1, 1 + 3)  # a: 1st + 2nd, b: 2nd + 3rd, c: 3rd + 1st
    assert by_themes[("a", "b")].weights == (3, 2)  # a repeated counts once
    assert by_themes[()].count == 1


def test_instance_names_the_field_at_fault() -> None:
    good = {
        "slots": [{"id": "t1", "rooms": 2}],
        "sessions": [{"id": "s1", "theme": "x", "capacity": 5}],
        "attendees": [{"id": 1, "org": "o", "wants": ["s1"]}],
    }
    assert parse_instance(good).attendees == 1
    with pytest.raises(InstanceError) as unknown:
        parse_instance({**good, "attendees": [{"id": 1, "org": "o", "wants": ["s1", "s9"]}]})
    assert unknown.value.field == "attendees[0].wants[1]" and "unknown session 's9'" in unknown.value.message
    with pytest.raises(InstanceError) as rooms:
        parse_instance({**good, "slots": [{"id": "t1", "rooms": 0}]})
    assert rooms.value.field == "slots[0].rooms"
    with pytest.raises(InstanceError) as twice:
        parse_instance({**good, "sessions": good["sessions"] * 2})
    assert twice.value.field == "sessions[1].id"


def test_precheck_explains_each_impossible_constraint_in_words() -> None:
    too_many = problem(*(SessionSpec(i, f"t{i}", label=f"b{i}") for i in range(6)))
    assert precheck(too_many) == ["6 breakouts do not fit in 3 slots with 5 rooms in all (rooms per slot: 2, 1, 2)"]

    shared = problem(
        SessionSpec(1, "data linkage", label="data linkage", locked_to=2),
        SessionSpec(2, "consent", label="consent", same_slot_as=1),
    )
    assert precheck(shared) == ["'data linkage' and 'consent' must share slot 2, which has 1 room"]

    contradictory = problem(
        SessionSpec(1, "a", label="A", same_slot_as=2), SessionSpec(2, "b", label="B", not_same_slot_as=1)
    )
    assert precheck(contradictory) == ["'B' must be in the same slot as 'A' and also not in the same slot"]

    window = problem(SessionSpec(1, "a", label="A", not_before=3, not_after=1))
    assert precheck(window) == ["'A' may not be before slot 3 and not after slot 1: no slot is left"]

    deleted = problem(SessionSpec(1, "a", label="A", locked_to=99))
    assert precheck(deleted) == ["'A' is locked to slot 99, which no longer exists: unlock it or pick a slot"]

    presenter = problem(
        SessionSpec(1, "a", label="A", presenter="Dr Ada", locked_to=1),
        SessionSpec(2, "b", label="B", presenter="Dr Ada", not_after=1),
    )
    assert precheck(presenter) == [
        "Dr Ada presents 'A' and 'B', which cannot all be in different slots with their allowed slots and locks: "
        "one person cannot be in two places at once"
    ]
    locked_full = problem(SessionSpec(1, "a", label="A", locked_to=2), SessionSpec(2, "b", label="B", locked_to=2))
    assert precheck(locked_full) == ["2 breakouts are locked to slot 2, which has 1 room"]
    assert precheck(problem(SessionSpec(1, "a"), SessionSpec(2, "b", same_slot_as=1))) == []


def test_evaluation_counts_clash_free_people_and_says_why_per_slot() -> None:
    sessions = (SessionSpec(1, "consent"), SessionSpec(2, "linkage"), SessionSpec(3, "ml"), SessionSpec(4, "ml"))
    rankings = [["consent", "linkage", "ml"]] * 5 + [["ml", "consent"]] * 2
    p = problem(*sessions, rankings=rankings)
    # consent and linkage together in slot 1; ml twice (slots 2 and 3).
    result = evaluate(p, {1: 1, 2: 1, 3: 2, 4: 3})
    assert (result.clash_free, result.attendees) == (2, 7)
    slot1 = result.losses[0]
    assert slot1.people == 5
    assert slot1.reasons == ["5 people lose 'linkage': they also want 'consent', which is in this slot too"]
    assert result.losses[1].people == 0 and result.violations == []
    assert result.weight == 5 * (3 + 1) + 2 * (3 + 2) and result.max_weight == 5 * 6 + 2 * 5
    apart = evaluate(p, {1: 1, 2: 3, 3: 2, 4: 2})
    assert apart.share == 1.0 and apart.weight == apart.max_weight
    # Slot 2 has one room: two sessions there is a violation, said in words.
    assert violations(p, {1: 1, 2: 3, 3: 2, 4: 2}) == ["slot 2 has 2 breakouts for 1 room"]


def test_a_wanted_theme_nobody_offers_is_reported_not_blamed_on_a_slot() -> None:
    p = problem(SessionSpec(1, "a"), SessionSpec(2, "b"), rankings=[["a", "b", "zzz"]])
    result = evaluate(p, {1: 1, 2: 3})
    assert result.clash_free == 0 and result.unoffered == {"zzz": 1}
    assert all(loss.people == 0 for loss in result.losses)
