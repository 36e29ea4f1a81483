"""The whole problem as one CP-SAT model (OR-Tools), for small instances: polishing the flows' assignment (given as
a hint) and, when the flows leave a theme repeated, finding a valid assignment or proving there is none.

Scores are rounded up to the integer grid, so the model's proven bound is a valid upper bound for the real scores.
One worker and a deterministic time limit keep the result the same for the same seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from services.matching.assignment.bound import locked_counts, locked_value
from services.matching.assignment.indexed import SCALE, Indexed, scaled, weight_units

REPAIR_MAX = 20_000  # (attendee, breakout) pairs: CP-SAT repairs what the flows left stuck up to this size
POLISH_MAX = 1_000  # and polishes up to this size (at 150 x 18 it needs ~6 s to gain 0.3 %)


@dataclass(frozen=True)
class Exact:
    choice: np.ndarray | None  # (attendees, slots) breakout indices, None when no solution was found
    status: str  # "optimal", "feasible", "infeasible" or "unknown"
    bound: float  # proven upper bound (scores rounded up), inf when none


def fits(ix: Indexed, limit: int = REPAIR_MAX) -> bool:
    return ix.n * ix.n_breakouts <= limit


def solve_exact(
    ix: Indexed, org_weight: float = 0.0, *, hint: np.ndarray | None = None, seed: int = 0, effort: float = 5.0
) -> Exact:
    """`effort` is CP-SAT's deterministic time limit (roughly seconds on one core)."""
    model = cp_model.CpModel()
    per_b, per_ob = locked_counts(ix)
    locked_theme = np.zeros((ix.n, ix.n_themes), dtype=bool)
    a_l, s_l = np.nonzero(ix.lock >= 0)
    locked_theme[a_l, ix.b_theme[ix.lock[a_l, s_l]]] = True
    ok = (ix.lock[:, ix.b_slot] < 0) & ~locked_theme[:, ix.b_theme]
    units = scaled(ix.util, up=True)
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for a, b in zip(*np.nonzero(ok), strict=True):
        x[int(a), int(b)] = model.new_bool_var(f"x{a}_{b}")
    by_person_slot: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    by_person_theme: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    by_breakout: dict[int, list[cp_model.IntVar]] = {}
    by_org_breakout: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    for (a, b), var in x.items():
        by_person_slot.setdefault((a, int(ix.b_slot[b])), []).append(var)
        by_person_theme.setdefault((a, int(ix.b_theme[b])), []).append(var)
        by_breakout.setdefault(b, []).append(var)
        by_org_breakout.setdefault((int(ix.org[a]), b), []).append(var)
    for a, s in zip(*np.nonzero(ix.lock < 0), strict=True):
        model.add_exactly_one(by_person_slot.get((int(a), int(s)), []))
    for group in by_person_theme.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for b, group in by_breakout.items():
        model.add(sum(group) <= int(ix.b_cap[b] - per_b[b]))
    terms = [int(units[a, ix.b_theme[b]]) * var for (a, b), var in x.items()]
    w = weight_units(org_weight, up=True)
    for (o, b), group in by_org_breakout.items():
        room = int(ix.b_orgcap[b] - per_ob[o, b])
        if len(group) > room:
            model.add(sum(group) <= room)
        if w and per_ob[o, b] == 0:
            present = model.new_bool_var(f"y{o}_{b}")
            model.add(present <= sum(group))
            terms.append(w * present)
    model.maximize(sum(terms))
    if hint is not None:
        for (a, b), var in x.items():
            model.add_hint(var, bool(hint[a, ix.b_slot[b]] == b))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = effort
    status = solver.solve(model)
    name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}.get(
        status, "unknown"
    )
    if name not in ("optimal", "feasible"):
        return Exact(None, name, float("inf"))
    choice = ix.lock.copy()
    for (a, b), var in x.items():
        if solver.boolean_value(var):
            choice[a, ix.b_slot[b]] = b
    bound = solver.best_objective_bound / SCALE + locked_value(ix, org_weight)
    return Exact(choice, name, bound)
