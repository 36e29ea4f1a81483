"""Breakout assignment solver (pure): hard rules always hold, locks are kept, same seed same result, infeasible days
fail with worded reasons, objective <= bound, and small instances reach the bound or a CP-SAT optimum."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from ortools.sat.python import cp_model

from services.matching.assignment.bound import lp_bound, theme_sets, upper_bound
from services.matching.assignment.domain import (
    Attendee,
    Breakout,
    Infeasible,
    Instance,
    InstanceError,
    Slot,
    evaluate,
    feasibility_reasons,
    org_cap,
    parse_instance,
    parse_locks,
)
from services.matching.assignment.generate import SIZES, Shape, generate
from services.matching.assignment.greedy import greedy
from services.matching.assignment.indexed import index
from services.matching.assignment.solver import solve

# ----------------------------------------------------------------------------------------------------------- helpers


def broken_rules(instance: Instance, assignment: Mapping[str, Sequence[object]], locks: Mapping = ()) -> list[str]:  # type: ignore[type-arg]
    """An independent check of every hard rule (not the solver's own)."""
    problems = []
    slot_of = {b.id: s for s, slot in enumerate(instance.slots) for b in slot.breakouts}
    by_id = {b.id: b for slot in instance.slots for b in slot.breakouts}
    load: Counter[object] = Counter()
    load_org: Counter[tuple[object, str]] = Counter()
    for a in instance.attendees:
        got = assignment[str(a.id)]
        if len(got) != len(instance.slots):
            problems.append(f"{a.id}: {len(got)} breakouts")
            continue
        for s, bid in enumerate(got):
            if slot_of.get(bid) != s:
                problems.append(f"{a.id}: {bid} not in slot {s}")
            load[bid] += 1
            load_org[(bid, a.org)] += 1
        themes = [by_id[b].theme for b in got]
        if len(set(themes)) != len(themes):
            problems.append(f"{a.id}: theme twice {themes}")
    for bid, k in load.items():
        if k > by_id[bid].capacity:
            problems.append(f"{bid}: {k} > capacity {by_id[bid].capacity}")
    for (bid, org), k in load_org.items():
        if k > math.ceil(instance.org_share * by_id[bid].capacity - 1e-9):
            problems.append(f"{bid}: {k} from {org}")
    slot_index = {s.id: i for i, s in enumerate(instance.slots)}
    for (aid, sid), bid in dict(locks).items():
        if assignment[str(aid)][slot_index[sid]] != bid:
            problems.append(f"lock {aid} {sid} -> {bid} not kept")
    return problems


def tiny_instance(rng: np.random.Generator) -> Instance:
    """Random small instances, many of them tight or infeasible on purpose."""
    n_themes = int(rng.integers(2, 6))
    n_slots = int(rng.integers(1, min(n_themes, 3) + 1))
    n = int(rng.integers(3, 11))
    themes = [f"t{i}" for i in range(n_themes)]
    slots, k = [], 0
    for s in range(n_slots):
        breakouts = []
        for _ in range(int(rng.integers(1, 5))):
            k += 1
            breakouts.append(Breakout(f"b{k}", themes[int(rng.integers(n_themes))], int(rng.integers(1, n + 2))))
        slots.append(Slot(f"s{s}", tuple(breakouts)))
    attendees = tuple(
        Attendee(
            f"a{i}",
            f"o{int(rng.integers(3))}",
            "r",
            {t: round(float(rng.uniform()), 2) for t in themes if rng.uniform() < 0.8},
        )
        for i in range(n)
    )
    return Instance(float(rng.choice([0.3, 0.5, 1.0])), tuple(themes), tuple(slots), attendees)


def cp_sat_optimum(instance: Instance, org_weight: float = 0.0) -> float | None:
    """The exact optimum by an independent CP-SAT model (scores have at most 3 decimals: exact in thousandths)."""
    model = cp_model.CpModel()
    flat = [(s, b) for s, slot in enumerate(instance.slots) for b in slot.breakouts]
    x = {(i, j): model.new_bool_var("") for i in range(len(instance.attendees)) for j in range(len(flat))}
    terms = []
    for i, a in enumerate(instance.attendees):
        for s in range(len(instance.slots)):
            model.add_exactly_one(x[i, j] for j, (bs, _) in enumerate(flat) if bs == s)
        for t in instance.themes:
            model.add(sum(x[i, j] for j, (_, b) in enumerate(flat) if b.theme == t) <= 1)
        terms += [round(1000 * a.prefs.get(b.theme, 0.0)) * x[i, j] for j, (_, b) in enumerate(flat)]
    for j, (_, b) in enumerate(flat):
        model.add(sum(x[i, j] for i in range(len(instance.attendees))) <= b.capacity)
        for org in {a.org for a in instance.attendees}:
            members = [x[i, j] for i, a in enumerate(instance.attendees) if a.org == org]
            model.add(sum(members) <= math.ceil(instance.org_share * b.capacity - 1e-9))
            if org_weight:
                present = model.new_bool_var("")
                model.add(present <= sum(members))
                terms.append(round(1000 * org_weight) * present)
    model.maximize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.max_time_in_seconds = 20
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return None
    assert status == cp_model.OPTIMAL
    return solver.objective_value / 1000


def day(first: int, places: int) -> dict:  # type: ignore[type-arg]
    """The issue's example: `first` attendees rank 'data linkage' first, it has `places` places over two slots."""
    return {
        "org_share": 0.3,
        "themes": ["data linkage", "ethics", "methods"],
        "slots": [
            {
                "id": "morning",
                "breakouts": [
                    {"id": "m-dl", "theme": "data linkage", "capacity": places // 2},
                    {"id": "m-eth", "theme": "ethics", "capacity": 200},
                    {"id": "m-met", "theme": "methods", "capacity": 200},
                ],
            },
            {
                "id": "afternoon",
                "breakouts": [
                    {"id": "a-dl", "theme": "data linkage", "capacity": places - places // 2},
                    {"id": "a-eth", "theme": "ethics", "capacity": 200},
                    {"id": "a-met", "theme": "methods", "capacity": 200},
                ],
            },
        ],
        "attendees": [
            {
                "id": f"p{i}",
                "org": f"org {i % 10}",
                "region": "North",
                "prefs": {"data linkage": 0.9, "ethics": 0.5, "methods": 0.2}
                if i < first
                else {"ethics": 0.8, "methods": 0.6},
            }
            for i in range(max(first, 150))
        ],
    }


# -------------------------------------------------------------------------------------------------------- hard rules


@pytest.mark.parametrize("seed", range(8))
def test_hard_rules_hold_and_infeasible_means_infeasible(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(6):
        instance = tiny_instance(rng)
        optimum = cp_sat_optimum(instance)
        try:
            result = solve(instance, seed=seed, first_choice_rule=False)
        except Infeasible as infeasible:
            assert optimum is None, f"solver gave up on a feasible day: {infeasible.reasons}"
            assert infeasible.reasons and all(isinstance(r, str) and r for r in infeasible.reasons)
            continue
        assert optimum is not None
        assert broken_rules(instance, result.assignment) == []
        assert result.objective <= result.bound.value + 1e-9
        assert optimum <= result.bound.value + 1e-9, "the bound must hold for the true optimum"
        # small instances: at least 99.5 % of the bound, or the proven optimum
        assert result.objective >= 0.995 * result.bound.value or result.objective == pytest.approx(optimum, abs=1e-6)


@pytest.mark.parametrize(
    ("shape", "share", "slack", "org_weight"),
    [
        (Shape(150, 6, 8, 3, 6), 0.3, 0.10, 0.0),
        (Shape(200, 12, 10, 4, 8), 0.25, 0.0, 0.0),
        (Shape(120, 3, 6, 3, 4), 0.5, 0.05, 0.05),
        (Shape(400, 25, 12, 4, 10), 0.3, 0.10, 0.02),
    ],
)
def test_hard_rules_hold_on_generated_instances(shape: Shape, share: float, slack: float, org_weight: float) -> None:
    for seed in range(2):
        instance = generate(shape, seed=seed, slack=slack, org_share=share)
        result = solve(instance, seed=seed, org_weight=org_weight, first_choice_rule=False)
        assert broken_rules(instance, result.assignment) == []
        assert result.objective == pytest.approx(evaluate(instance, result.assignment, org_weight).objective)
        assert result.objective <= result.bound.value + 1e-9
        assert result.ratio >= 0.995, (result.objective, result.bound)


def test_every_attendee_must_take_both_themes_split_across_slots() -> None:
    """Two themes, two slots, everyone prefers A: half take A first, half second; nobody gets A twice."""
    slots = tuple(Slot(s, (Breakout(f"{s}-A", "A", 5), Breakout(f"{s}-B", "B", 5))) for s in ("first", "second"))
    people = tuple(Attendee(f"p{i}", f"o{i}", "r", {"A": 1.0, "B": 0.2}) for i in range(10))
    instance = Instance(1.0, ("A", "B"), slots, people)
    result = solve(instance)
    assert broken_rules(instance, result.assignment) == []
    assert Counter(got[0] for got in result.assignment.values()) == {"first-A": 5, "first-B": 5}
    assert result.objective == pytest.approx(10 * 1.2)


def test_breakouts_of_one_theme_fill_evenly() -> None:
    """No breakout is left nearly empty next to a full one (that is where one organisation could dominate)."""
    slot = Slot("only", (Breakout("x1", "X", 100), Breakout("x2", "X", 100), Breakout("y", "Y", 100)))
    people = tuple(Attendee(f"p{i}", f"o{i % 4}", "r", {"X": 1.0}) for i in range(60))
    instance = Instance(0.3, ("X", "Y"), (slot,), people)
    loads = Counter(got[0] for got in solve(instance).assignment.values())
    assert loads["x1"] + loads["x2"] == 60
    assert 20 <= loads["x1"] <= 40 and 20 <= loads["x2"] <= 40


# ------------------------------------------------------------------------------------------------ locks, determinism


def test_locks_are_kept() -> None:
    instance = generate(Shape(200, 10, 8, 3, 6), seed=3)
    # Lock a quarter of the (attendee, slot) pairs of a deliberately bad but valid day: everyone's least liked.
    contrary = Instance(
        instance.org_share,
        instance.themes,
        instance.slots,
        tuple(
            Attendee(a.id, a.org, a.region, {t: 1 - a.prefs.get(t, 0.0) for t in instance.themes})
            for a in instance.attendees
        ),
    )
    bad = solve(contrary, first_choice_rule=False).assignment
    rng = np.random.default_rng(0)
    locks = {}
    for a in instance.attendees:
        for s, slot in enumerate(instance.slots):
            if rng.uniform() < 0.25:
                locks[(a.id, slot.id)] = bad[str(a.id)][s]
    free = solve(instance)
    locked = solve(instance, locks=locks)
    assert broken_rules(instance, locked.assignment, locks) == []
    assert locked.objective <= free.objective + 1e-9
    assert locked.objective <= locked.bound.value + 1e-9
    assert locked.bound.value <= free.bound.value + 1e-9


def test_locks_from_json_and_lock_conflicts_are_reasons() -> None:
    instance = parse_instance(day(first=10, places=60))
    locks = parse_locks(instance, {"p1": {"morning": "m-dl", "afternoon": "a-dl"}})
    assert feasibility_reasons(instance, locks) == [
        "attendee 'p1': locked into theme 'data linkage' more than once (slots 'morning', 'afternoon')"
    ]
    with pytest.raises(InstanceError) as error:
        parse_locks(instance, {"p1": {"morning": "a-dl"}})
    assert error.value.field == "locks['p1']['morning']"


def test_same_seed_same_assignment() -> None:
    instance = generate(SIZES[300], seed=5)
    first = solve(instance, seed=11)
    again = solve(instance, seed=11)
    assert first.assignment == again.assignment
    assert first.objective == again.objective
    assert list(first.assignment) == [str(a.id) for a in instance.attendees]


def test_progress_is_reported_up_to_done() -> None:
    seen: list[tuple[str, int]] = []
    solve(generate(Shape(100, 10, 6, 3, 6), seed=1), progress=lambda stage, percent: seen.append((stage, percent)))
    percents = [p for _, p in seen]
    assert percents == sorted(percents)
    assert seen[0] == ("checking", 0) and seen[-1] == ("done", 100)
    assert {"themes", "slots", "improving", "bound"} <= {stage for stage, _ in seen}


# ---------------------------------------------------------------------------------------------- infeasibility words


def test_too_little_capacity_for_a_theme_is_worded_like_the_issue() -> None:
    instance = parse_instance(day(first=140, places=60))
    with pytest.raises(Infeasible) as failed:
        solve(instance)
    assert failed.value.reasons == ["theme 'data linkage': 140 ranked it first, 60 places in total"]


def test_slot_capacity_reason() -> None:
    data = day(first=10, places=60)
    data["slots"][0]["breakouts"][1]["capacity"] = 20
    data["slots"][0]["breakouts"][2]["capacity"] = 10  # morning: 30 + 20 + 10 places for 150 attendees
    assert feasibility_reasons(parse_instance(data)) == ["slot 'morning': 150 attendees, 60 places"]


def test_diversity_cap_that_cannot_hold_is_a_reason() -> None:
    data = day(first=10, places=60)
    data["slots"][0]["breakouts"][1]["capacity"] = 20  # morning: 30 + 20 + 200 places, 9 + 6 + 60 from one org
    for i, person in enumerate(data["attendees"]):
        person["org"] = "Acme" if i < 100 else f"org {i}"
    instance = parse_instance(data)
    expected = [
        "organisation 'Acme': 100 attendees, at most 75 places in slot 'morning' (30 % of a breakout from one "
        "organisation)"
    ]
    assert feasibility_reasons(instance) == expected
    with pytest.raises(Infeasible) as failed:
        solve(instance)
    assert failed.value.reasons == expected


def test_too_few_themes_over_slots_is_a_reason() -> None:
    slots = tuple(Slot(s, (Breakout(f"{s}-A", "A", 50),)) for s in ("one", "two"))
    instance = Instance(1.0, ("A",), slots, tuple(Attendee(f"p{i}", "o", "r", {}) for i in range(3)))
    assert feasibility_reasons(instance) == [
        "slots 'one', 'two': 3 attendees need 6 places without repeating a theme, 3 usable"
    ]


# ------------------------------------------------------------------------------------------------------------ bounds


def test_bounds_are_ordered_and_valid_on_a_small_instance() -> None:
    instance = generate(Shape(12, 4, 5, 3, 3), seed=2, slack=0.05)
    ix = index(instance)
    sets = theme_sets(ix)
    lp = lp_bound(ix)
    assert sets is not None and lp is not None
    assert lp <= sets.value * (1 + 2e-6)  # the LP sees slots, the theme-set flow does not (1e-6: LP tolerance)
    bound = upper_bound(ix, sets=sets, lp=True)
    assert bound.value == min(bound.values.values())
    optimum = cp_sat_optimum(instance)
    assert optimum is not None and optimum <= bound.value + 1e-9


def test_org_mix_weight_is_in_objective_and_bound() -> None:
    rng = np.random.default_rng(42)
    checked = 0
    while checked < 4:
        instance = tiny_instance(rng)
        optimum = cp_sat_optimum(instance, org_weight=0.05)
        if optimum is None:
            continue
        result = solve(instance, org_weight=0.05, first_choice_rule=False)
        assert optimum <= result.bound.value + 1e-9
        assert result.objective <= optimum + 1e-9
        assert result.objective == pytest.approx(evaluate(instance, result.assignment, 0.05).objective)
        checked += 1


# ---------------------------------------------------------------------------------------------- validation, metrics


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        (lambda d: d.update(org_share=1.5), "org_share"),
        (lambda d: d.pop("themes"), "themes"),
        (lambda d: d["themes"].append("ethics"), "themes[3]"),
        (lambda d: d["slots"][1]["breakouts"][2].update(capacity=-1), "slots[1].breakouts[2].capacity"),
        (lambda d: d["slots"][0]["breakouts"][0].update(theme="astrology"), "slots[0].breakouts[0].theme"),
        (lambda d: d["slots"][1]["breakouts"][0].update(id="m-dl"), "slots[1].breakouts[0].id"),
        (lambda d: d["attendees"][3]["prefs"].update(ethics=1.2), "attendees[3].prefs['ethics']"),
        (lambda d: d["attendees"][4]["prefs"].update(astrology=0.5), "attendees[4].prefs"),
        (lambda d: d["attendees"][5].pop("org"), "attendees[5].org"),
        (lambda d: d["attendees"][6].update(id="p1"), "attendees[6].id"),
        (lambda d: d["slots"].clear(), "slots"),
    ],
)
def test_malformed_instances_name_the_field(patch, field: str) -> None:  # type: ignore[no-untyped-def]
    data = day(first=10, places=60)
    patch(data)
    with pytest.raises(InstanceError) as error:
        parse_instance(data)
    assert error.value.field == field


def test_org_cap_rounds_up_exactly() -> None:
    assert org_cap(10, 0.3) == 3  # 0.3 * 10 is 3.0000000000000004 in floating point
    assert org_cap(11, 0.3) == 4
    assert org_cap(0, 0.3) == 0
    assert org_cap(7, 1.0) == 7


def test_metrics_and_greedy_baseline() -> None:
    instance = generate(SIZES[300], seed=4)
    result = solve(instance)
    ours = evaluate(instance, result.assignment)
    assert ours.left_out == 0 and ours.attendees == 300
    assert 0 <= ours.got_top3 <= ours.got_first <= 1
    assert ours.max_org_share_of_capacity <= 0.3 + 1 / min(b.capacity for s in instance.slots for b in s.breakouts)
    assert ours.mean_orgs_met > 0 and ours.cross_org_contacts > 0
    baseline = greedy(instance)
    placed = {a: [b for b in got if b is not None] for a, got in baseline.items()}
    theirs = evaluate(instance, baseline)
    assert theirs.objective <= result.bound.value + 1e-9
    # the greedy never breaks a rule for the people it placed
    partial = Instance(
        instance.org_share,
        instance.themes,
        instance.slots,
        tuple(a for a in instance.attendees if len(placed[str(a.id)]) == len(instance.slots)),
    )
    assert broken_rules(partial, placed) == []
