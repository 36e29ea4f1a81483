"""The breakout assignment solver: min-cost flows (OR-Tools), one network per slot, coupled by the themes.

Within one slot the problem is a min-cost flow: attendee -> (organisation, theme) -> breakout -> sink, where the
(organisation, theme) -> breakout arcs carry the diversity cap and the breakout -> sink arcs the capacity (attendees
of one organisation who pick the same theme are interchangeable, so routing them through one node per
(organisation, theme) instead of one arc per (attendee, breakout) halves the network and keeps it exact). Costs are
integers: -score x 10,000. "No theme twice" couples the slots; it is handled in three steps:

1. Themes first (one flow for the whole day, bound.theme_sets): which themes each attendee should get, ignoring in
   which slot. Its optimum is also the reported upper bound at scale.
2. Slots in order: each slot's flow places everyone in one of their still-unplaced target themes (cost 0), or in
   another theme they do not have yet at its price (the score they lose), while rewarding a share of each theme's
   remaining demand proportional to its places in this slot versus the later ones (so no theme is left with more
   demand than places at the end) and urging targets that later slots do not offer.
3. Block-coordinate improvement: re-solve each slot's flow exactly with the other slots fixed (an attendee may take
   any theme they do not have in another slot, cost = -score), until a full pass gains nothing. Each re-solve is
   optimal for its slot, so the objective never decreases and the assignment stays valid. On small instances steps
   2-3 run again for a few more attendee orders (drawn from the seed) and the best result is kept.
4. Small instances only (exact.py): up to 1,000 attendee x breakout pairs CP-SAT starts from that assignment and
   polishes it for a deterministic time budget (its proven bound joins the reported bounds); up to 20,000, if the
   flows got stuck with a repeated theme (possible when few themes are offered in few slots), CP-SAT finds a valid
   assignment or proves there is none. Larger instances that get stuck fail with the attendees named.

Locked (attendee, slot) pairs are taken out of the flows and their places subtracted. Given the seed (which orders
the attendees, i.e. breaks ties), the result is deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.assignment.bound import Bound, ThemeSets, theme_sets, upper_bound
from services.matching.assignment.domain import (
    Assignment,
    Infeasible,
    Instance,
    Locks,
    feasibility_reasons,
    violations,
)
from services.matching.assignment.exact import POLISH_MAX, fits, solve_exact
from services.matching.assignment.indexed import SCALE, Indexed, index, scaled, weight_units

Progress = Callable[[str, int], None]

OFF_TARGET = SCALE // 10  # extra cost of a theme the day's theme plan did not give the attendee
URGENT = SCALE // 20  # reward for a target theme no later slot offers the attendee
BALANCE = SCALE // 40  # reward per place of a theme's proportional share in this slot
FILL_STEPS = (0.2, 0.4, 0.6, 0.8, 1.0)  # fill levels of a breakout; each level up costs 1 unit (0.0001) per person
RESTART_BUDGET = 60_000  # attendees x breakouts: restarts while their total stays about this size
REPAIR_EFFORT = 20.0  # CP-SAT deterministic time when the flows leave a repeat (small instances only)


@dataclass
class SolveResult:
    assignment: Assignment
    objective: float
    bound: Bound
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.objective / self.bound.value if self.bound.value > 0 else 1.0


def solve(
    instance: Instance,
    *,
    locks: Locks | None = None,
    seed: int = 0,
    org_weight: float = 0.0,
    progress: Progress | None = None,
    max_passes: int = 6,
    lp: bool | None = None,
    first_choice_rule: bool = True,
    polish_effort: float = 2.0,
    restarts: int | None = None,
) -> SolveResult:
    """Assign every attendee one breakout per slot (see the module docstring); raises Infeasible with worded reasons
    when the day cannot be scheduled. `progress(stage, percent)` is called as it goes; `lp` forces the LP bound on or
    off (default: only for small instances); `first_choice_rule=False` skips the pre-check's policy that a theme
    must have places for everyone who ranked it first; `polish_effort` is CP-SAT's deterministic time for polishing
    tiny instances (0: off); `restarts` runs steps 2-3 for that many attendee orders and keeps the best (default:
    up to 8 while attendees x breakouts is small, one at scale)."""
    report = progress or (lambda stage, percent: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    report("checking", 0)
    reasons = feasibility_reasons(instance, locks, first_choice_rule=first_choice_rule)
    if reasons:
        raise Infeasible(reasons)
    ix = index(instance, locks)
    rng = np.random.default_rng(seed)
    order = rng.permutation(ix.n)
    _lap(timings, "check", started)

    report("themes", 5)
    sets = theme_sets(ix, org_weight, order)
    if sets is None:  # even the relaxation has no solution, so the day has none
        raise Infeasible(["no way to give every attendee different themes within the places and organisation caps"])
    _lap(timings, "themes", started)

    w = weight_units(org_weight)
    starts = restarts if restarts is not None else max(1, min(8, RESTART_BUDGET // (ix.n * ix.n_breakouts)))
    best: tuple[int, np.ndarray, int] | None = None
    for k in range(starts):
        if k:  # another tie-breaking order, and the theme plan that goes with it
            order = rng.permutation(ix.n)
            sets_k = theme_sets(ix, org_weight, order) or sets
        else:
            sets_k = sets

        def step(stage: str, done: float, k: int = k) -> None:
            report(stage, 10 + int(70 * (k + done) / starts))

        choice, passes = _flows(ix, sets_k, order, w, max_passes, step)
        value = _value(ix, choice, w)
        if best is None or value > best[0]:
            best = (value, choice, passes)
    assert best is not None
    _, choice, passes = best
    _lap(timings, "flows", started)

    known: dict[str, float] = {}
    method = "flows"
    if (choice < 0).any() or _repeats(ix, choice):  # the flows got stuck: the exact model decides
        report("repairing", 85)
        exact = solve_exact(ix, org_weight, hint=choice, seed=seed, effort=REPAIR_EFFORT) if fits(ix) else None
        if exact is None or exact.choice is None:
            raise Infeasible(_stuck_reasons(ix, choice, exact.status if exact else None))
        choice, method = exact.choice, f"CP-SAT ({exact.status})"
        known["CP-SAT"] = exact.bound
    elif polish_effort > 0 and fits(ix, POLISH_MAX):
        report("polishing", 85)
        exact = solve_exact(ix, org_weight, hint=choice, seed=seed, effort=polish_effort)
        if exact.choice is not None:
            known["CP-SAT"] = exact.bound
            if objective(ix, exact.choice, org_weight) > objective(ix, choice, org_weight) + 1e-9:
                choice, method = exact.choice, f"flows + CP-SAT ({exact.status})"
    _lap(timings, "exact", started)

    assignment = ix.to_assignment(choice)
    problems = violations(instance, assignment, locks)
    if problems:  # a bug, not an input problem: never hand out an assignment that breaks a rule
        raise AssertionError(f"solver produced an invalid assignment: {problems[:5]}")
    report("bound", 95)
    bound = upper_bound(ix, org_weight, sets=sets, lp=lp, known=known)
    _lap(timings, "bound", started)
    report("done", 100)
    return SolveResult(
        assignment=assignment,
        objective=objective(ix, choice, org_weight),
        bound=bound,
        stats={"passes": passes, "method": method, "seconds": timings, "seed": seed},
    )


def _flows(
    ix: Indexed, sets: ThemeSets, order: np.ndarray, w: int, max_passes: int, step: Callable[[str, float], None]
) -> tuple[np.ndarray, int]:
    """Steps 2 and 3 (module docstring) for one attendee order; returns the choice and the improvement passes."""
    choice = ix.lock.copy()
    for s in range(ix.n_slots):
        step("slots", 0.4 * s / ix.n_slots)
        _place_slot(ix, s, choice, sets, order, w, later=list(range(s + 1, ix.n_slots)))
    value = _value(ix, choice, w)
    passes = 0
    while passes < max_passes:
        passes += 1
        before = value
        for s in range(ix.n_slots):
            step("improving", 0.4 + 0.6 * ((passes - 1) * ix.n_slots + s) / (max_passes * ix.n_slots))
            _improve_slot(ix, s, choice, order, w)
        value = _value(ix, choice, w)
        if value <= before:
            break
    return choice, passes


def _stuck_reasons(ix: Indexed, choice: np.ndarray, status: str | None) -> list[str]:
    if status == "infeasible":
        return [
            "no assignment meets every rule (CP-SAT proved it): the places, organisation caps and locks leave "
            "someone without a new theme in some slot"
        ]
    people = sorted({int(a) for a in np.flatnonzero((choice < 0).any(axis=1) | (_repeat_rows(ix, choice) > 0))})
    names = ", ".join(f"'{ix.instance.attendees[a].id}'" for a in people[:10])
    more = f" and {len(people) - 10} more" if len(people) > 10 else ""
    return [
        f"found no assignment without repeating a theme for attendees {names}{more}; the places per theme in "
        "each slot leave them no new theme (the pre-check found no simple cause)"
    ]


def objective(ix: Indexed, choice: np.ndarray, org_weight: float = 0.0) -> float:
    """Sum of scores of the themes people got + org_weight x distinct organisations per breakout."""
    placed = choice >= 0
    people, _ = np.nonzero(placed)
    b = choice[placed]
    score = float(ix.util[people, ix.b_theme[b]].sum())
    if org_weight == 0:
        return score
    return score + org_weight * int(np.unique(ix.org[people] * ix.n_breakouts + b).size)


def _value(ix: Indexed, choice: np.ndarray, w: int) -> int:
    """The objective in flow units, a repeated theme costing more than any gain."""
    people, _ = np.nonzero(choice >= 0)
    b = choice[choice >= 0]
    units = int(scaled(ix.util)[people, ix.b_theme[b]].sum())
    units += w * int(np.unique(ix.org[people] * ix.n_breakouts + b).size) if w else 0
    return units - _repeat_cost(ix) * _repeats(ix, choice)


def _repeat_rows(ix: Indexed, choice: np.ndarray) -> np.ndarray:
    """Per attendee, how many of their placements repeat a theme they already have."""
    themes = np.where(choice >= 0, ix.b_theme[np.clip(choice, 0, None)], -1 - np.arange(ix.n_slots)[None, :])
    themes = np.sort(themes, axis=1)
    return (themes[:, 1:] == themes[:, :-1]).sum(axis=1)


def _repeats(ix: Indexed, choice: np.ndarray) -> int:
    return int(_repeat_rows(ix, choice).sum())


def _repeat_cost(ix: Indexed) -> int:
    """More than everything the other attendees could gain together: one repeat never pays."""
    return SCALE * (ix.n + 1) + weight_units(1.0) * ix.n_breakouts


def _lap(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = max(0.0, round(time.perf_counter() - started - sum(timings.values()), 3))


# ------------------------------------------------------------------------------------------------ the slot networks


def _themes_held(ix: Indexed, choice: np.ndarray, skip: int) -> np.ndarray:
    """(attendees, themes) bool: themes each attendee has in slots other than `skip`."""
    held = np.zeros((ix.n, ix.n_themes), dtype=bool)
    for s in range(ix.n_slots):
        if s == skip:
            continue
        people = np.flatnonzero(choice[:, s] >= 0)
        held[people, ix.b_theme[choice[people, s]]] = True
    return held


def _place_slot(
    ix: Indexed, s: int, choice: np.ndarray, sets: ThemeSets, order: np.ndarray, w: int, later: list[int]
) -> None:
    """Step 2 for slot s: place the slot's free attendees, preferring their unplaced target themes."""
    people = order[ix.lock[order, s] < 0]
    held = _themes_held(ix, choice, s)
    remaining = sets.chosen & ~held  # target themes not placed yet
    breakouts = ix.slot_breakouts[s]
    offered = np.zeros(ix.n_themes, dtype=bool)
    offered[ix.b_theme[breakouts]] = True
    units = scaled(ix.util)
    # The lowest-scored remaining target is what taking another theme now costs later.
    lowest = np.where(remaining, units, np.iinfo(np.int64).max).min(axis=1)
    lowest[~remaining.any(axis=1)] = 0
    cost = OFF_TARGET + np.maximum(0, lowest[:, None] - units)
    cost = np.where(remaining, 0, cost)
    # Targets that no later slot where the attendee is still free offers: now or never.
    later_offer = np.zeros((ix.n, ix.n_themes), dtype=bool)
    for t_slot in later:
        free_there = ix.lock[:, t_slot] < 0
        later_offer[np.ix_(free_there, np.unique(ix.b_theme[ix.slot_breakouts[t_slot]]))] = True
    cost = np.where(remaining & ~later_offer, cost - URGENT, cost)
    allowed = ~held[people][:, offered]
    # Balance: each theme's remaining demand in proportion to its places here vs in later slots.
    places_here = _theme_places(ix, s)
    places_later = sum((_theme_places(ix, t) for t in later), np.zeros(ix.n_themes))
    demand = remaining[people].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(places_here > 0, demand * places_here / (places_here + places_later), 0)
    balance = np.floor(np.minimum(share, places_here)).astype(np.int64)
    themes = np.flatnonzero(offered)
    picked = _slot_flow(ix, s, people, themes, cost[people][:, offered], allowed, w, balance[themes])
    if picked is None:  # no new theme for everyone here: allow repeats at a prohibitive cost, improve them away later
        soft = cost[people][:, offered] + _repeat_cost(ix) * held[people][:, offered]
        picked = _slot_flow(ix, s, people, themes, soft, np.ones_like(allowed), w, None)
    if picked is not None:
        choice[people, s] = picked  # else the slot stays unplaced and the exact model takes over


def _improve_slot(ix: Indexed, s: int, choice: np.ndarray, order: np.ndarray, w: int) -> None:
    """Step 3 for slot s: the best placement of its free attendees with every other slot fixed. While step 2 left
    repeats or gaps, a theme the attendee has elsewhere is allowed at a prohibitive cost (so the flow has a solution
    and removes repeats wherever places allow); otherwise it is not allowed."""
    people = order[ix.lock[order, s] < 0]
    held = _themes_held(ix, choice, s)[np.ix_(people, themes := np.unique(ix.b_theme[ix.slot_breakouts[s]]))]
    cost = -scaled(ix.util)[np.ix_(people, themes)]
    if (choice[people, s] < 0).any() or _repeats(ix, choice):
        picked = _slot_flow(ix, s, people, themes, cost + _repeat_cost(ix) * held, np.ones_like(held), w, None)
    else:  # the current placement is a solution of this flow, so it has one
        picked = _slot_flow(ix, s, people, themes, cost, ~held, w, None)
    if picked is not None:
        choice[people, s] = picked


def _theme_places(ix: Indexed, s: int) -> np.ndarray:
    """Free places per theme in slot s (capacity minus locked attendees)."""
    b = ix.slot_breakouts[s]
    locked = np.bincount(ix.lock[:, s][ix.lock[:, s] >= 0], minlength=ix.n_breakouts)[b]
    return np.bincount(ix.b_theme[b], weights=ix.b_cap[b] - locked, minlength=ix.n_themes)


def _slot_flow(
    ix: Indexed,
    s: int,
    people: np.ndarray,
    themes: np.ndarray,
    cost: np.ndarray,
    allowed: np.ndarray,
    w: int,
    balance: np.ndarray | None,
) -> np.ndarray | None:
    """One slot's min-cost flow. `cost`/`allowed` are (people, themes); returns each person's breakout (global
    index) or None when the flow has no solution. `balance` (per theme) rewards that many places with BALANCE."""
    breakouts = ix.slot_breakouts[s]
    n_p, n_t, n_b = len(people), len(themes), len(breakouts)
    if n_p == 0:
        return np.zeros(0, dtype=np.int64)
    theme_pos = np.full(ix.n_themes, -1)
    theme_pos[themes] = np.arange(n_t)
    locked_here = ix.lock[:, s] >= 0
    locked_b = np.bincount(ix.lock[locked_here, s], minlength=ix.n_breakouts)[breakouts]
    locked_ob = np.zeros((ix.n_orgs, n_b), dtype=np.int64)
    b_pos = np.full(ix.n_breakouts, -1)
    b_pos[breakouts] = np.arange(n_b)
    np.add.at(locked_ob, (ix.org[locked_here], b_pos[ix.lock[locked_here, s]]), 1)

    orgs = np.unique(ix.org[people])
    org_pos = np.full(ix.n_orgs, -1)
    org_pos[orgs] = np.arange(len(orgs))
    n_o = len(orgs)
    ot_node = n_p  # + org_pos * n_t + theme_pos
    b_node = ot_node + n_o * n_t
    t_node = b_node + n_b
    sink = t_node + n_t
    flow = min_cost_flow.SimpleMinCostFlow()

    rows, cols = np.nonzero(allowed)
    flow.add_arcs_with_capacity_and_unit_cost(
        rows, ot_node + org_pos[ix.org[people[rows]]] * n_t + cols, np.ones_like(rows), cost[rows, cols]
    )
    n_person_arcs = len(rows)
    # (organisation, theme) -> breakout: the organisation's cap, the first person worth the org-mix weight.
    o_i, b_i = np.meshgrid(np.arange(n_o), np.arange(n_b), indexing="ij")
    o_i, b_i = o_i.reshape(-1), b_i.reshape(-1)
    cap_left = ix.b_orgcap[breakouts][b_i] - locked_ob[orgs[o_i], b_i]
    first = ((locked_ob[orgs[o_i], b_i] == 0) & (cap_left > 0)).astype(np.int64) if w else np.zeros_like(o_i)
    tails = ot_node + o_i * n_t + theme_pos[ix.b_theme[breakouts][b_i]]
    heads = b_node + b_i
    for caps, unit in ((first, -w), (cap_left - first, 0)):
        keep = caps > 0
        flow.add_arcs_with_capacity_and_unit_cost(
            tails[keep], heads[keep], caps[keep], np.full(int(keep.sum()), unit, dtype=np.int64)
        )
    room = np.clip(ix.b_cap[breakouts] - locked_b, 0, None)
    # Breakout -> theme in segments of rising (tiny) cost: among breakouts of one theme the flow fills the emptiest,
    # so none is left nearly empty (and, through the capacity-based cap, dominated by one organisation).
    done = np.zeros(n_b, dtype=np.int64)
    for unit, upto in enumerate(FILL_STEPS):
        seg = np.floor(ix.b_cap[breakouts] * upto).astype(np.int64) - locked_b - done
        seg = np.clip(np.minimum(seg, room - done), 0, None)
        keep = seg > 0
        flow.add_arcs_with_capacity_and_unit_cost(
            b_node + np.flatnonzero(keep),
            t_node + theme_pos[ix.b_theme[breakouts][keep]],
            seg[keep],
            np.full(int(keep.sum()), unit, dtype=np.int64),
        )
        done += seg
    theme_room = np.bincount(theme_pos[ix.b_theme[breakouts]], weights=room, minlength=n_t).astype(np.int64)
    rewarded = np.zeros(n_t, dtype=np.int64) if balance is None else np.minimum(balance, theme_room)
    flow.add_arcs_with_capacity_and_unit_cost(
        t_node + np.arange(n_t), np.full(n_t, sink), rewarded, np.full(n_t, -BALANCE, dtype=np.int64)
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        t_node + np.arange(n_t), np.full(n_t, sink), theme_room - rewarded, np.zeros(n_t, dtype=np.int64)
    )
    flow.set_nodes_supplies(np.arange(n_p), np.ones(n_p, dtype=np.int64))
    flow.set_node_supply(sink, -n_p)
    if flow.solve() != flow.OPTIMAL:
        return None

    # Each person's theme from their arc, then hand out the (organisation, theme) node's breakout places in order.
    used = flow.flows(np.arange(n_person_arcs)) > 0
    person_theme = np.full(n_p, -1)
    person_theme[rows[used]] = cols[used]
    arcs = np.arange(n_person_arcs, flow.num_arcs())
    ob = flow.flows(arcs)
    tail = np.array([flow.tail(int(a)) for a in arcs[ob > 0]], dtype=np.int64)
    head = np.array([flow.head(int(a)) for a in arcs[ob > 0]], dtype=np.int64)
    amount = ob[ob > 0]
    is_ob = (tail >= ot_node) & (tail < b_node)
    slots_per_node: dict[int, list[int]] = {}
    for t_, h_, k in zip(tail[is_ob], head[is_ob], amount[is_ob], strict=True):
        slots_per_node.setdefault(int(t_), []).extend([int(breakouts[h_ - b_node])] * int(k))
    picked = np.empty(n_p, dtype=np.int64)
    node_of = ot_node + org_pos[ix.org[people]] * n_t + person_theme
    cursor: dict[int, int] = {}
    for p in range(n_p):
        node = int(node_of[p])
        k = cursor.get(node, 0)
        picked[p] = slots_per_node[node][k]
        cursor[node] = k + 1
    return picked
