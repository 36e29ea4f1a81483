"""The CP-SAT timetable: reaches a hidden clash-free timetable, keeps every hard constraint, is deterministic for a
seed, and explains infeasibility the pre-check cannot see. Small instances: each solves in well under a second."""

from __future__ import annotations

import pytest

from services.matching.timetable.baselines import greedy_pairs_apart, random_placement
from services.matching.timetable.domain import (
    Infeasible,
    Problem,
    SessionSpec,
    SlotSpec,
    evaluate,
    parse_instance,
    profiles_of,
    violations,
)
from services.matching.timetable.generate import Shape, generate
from services.matching.timetable.solver import solve

SMALL = Shape(attendees=200, slots=3, rooms=5, repeated_themes=1, orgs=10)


def test_reaches_the_hidden_timetable_and_beats_the_baselines() -> None:
    instance, hidden = generate(SMALL, seed=4)
    p = parse_instance(instance)
    assert evaluate(p, hidden).share == 1.0
    seen: list[float] = []
    solution = solve(p, seed=0, time_limit=30, progress=lambda share, _s: seen.append(share))
    assert solution.evaluation.share == 1.0 and solution.status == "optimal" and solution.bound_share == 1.0
    assert solution.evaluation.weight == solution.evaluation.max_weight
    assert violations(p, solution.placement) == []
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)  # progress reports only better timetables
    assert evaluate(p, random_placement(p, 0)).share < 1.0
    assert evaluate(p, greedy_pairs_apart(p)).share <= 1.0


def test_same_seed_same_timetable() -> None:
    p = parse_instance(generate(SMALL, seed=5)[0])
    assert solve(p, seed=3, time_limit=30).placement == solve(p, seed=3, time_limit=30).placement


def test_hard_constraints_hold_even_against_what_people_want() -> None:
    slots = (SlotSpec("t1", 2), SlotSpec("t2", 3), SlotSpec("t3", 2))
    sessions = (
        SessionSpec("a", "a", same_slot_as="b"),  # everyone wants a and b: they still share a slot
        SessionSpec("b", "b"),
        SessionSpec("c", "c", not_before="t3"),
        SessionSpec("d", "d", presenter="Dr Ada", locked_to="t1"),
        SessionSpec("e", "e", presenter="Dr Ada", not_same_slot_as="c"),
    )
    profiles, n = profiles_of([["a", "b", "c"]] * 10 + [["d", "e"]] * 3, 3)
    p = Problem(slots, sessions, profiles, n, 3)
    solution = solve(p, seed=0, time_limit=10)
    placed = solution.placement
    assert placed["a"] == placed["b"] and placed["c"] == "t3" and placed["d"] == "t1"
    assert placed["e"] not in ("t1", "t3")
    assert violations(p, placed) == []
    assert solution.evaluation.clash_free == 3  # the d/e people; a and b clash by the organiser's rule


def test_infeasibility_the_precheck_cannot_see_is_explained_by_the_solver() -> None:
    # x, y, z pairwise apart in two slots: x-y by their presenter, y-z by Q presenting z and y's twin, x-z by a
    # rule. Each rule alone passes the pre-check.
    slots = (SlotSpec(1, 3), SlotSpec(2, 3))
    twin = SessionSpec("y2", "y2", presenter="Q", same_slot_as="y")
    y, z = SessionSpec("y", "y", presenter="P"), SessionSpec("z", "z", presenter="Q")
    without_rule = Problem(slots, (SessionSpec("x", "x", presenter="P"), y, z, twin), (), 0, 3)
    assert solve(without_rule, time_limit=10).placement  # x can share z's slot
    with_rule = Problem(slots, (SessionSpec("x", "x", presenter="P", not_same_slot_as="z"), y, z, twin), (), 0, 3)
    with pytest.raises(Infeasible) as caught:
        solve(with_rule, time_limit=10)
    assert "no possible timetable" in caught.value.reasons[0]
