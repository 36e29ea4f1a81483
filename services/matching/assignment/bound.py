"""Upper bounds on the best objective, to say how close an assignment is.

Two valid bounds; `upper_bound` reports the smaller one it computed and names it:

- "theme-set flow" (every size, one min-cost flow): forget which slot a theme is taken in. Every attendee then picks
  as many different themes as they have free slots, theme t can take at most its places over the whole day, an
  organisation at most the sum of its caps over t's breakouts. Any valid assignment is such a choice (read off its
  themes), so this flow's optimum is >= the true optimum. The organisation-mix term is bounded the same way: an
  organisation is present in at most min(its people in t, t's breakouts) of t's breakouts. Scores are rounded *up* to
  the integer cost grid, so rounding can only raise it. It is also >= the LP relaxation (project the LP's solution
  onto themes), so it is the looser of the two, but exact where theme places are spread over slots the way the
  attendees need them (then slot order costs nothing), and it takes about a second at 10,000 attendees where the
  LP takes minutes and gigabytes.
- "LP relaxation" (HiGHS, small instances): the full model over (attendee, breakout) variables with 0 <= x <= 1,
  including slots, capacities, organisation caps, "no theme twice" and the organisation-mix variables.
- "CP-SAT" (tiny instances, from exact.py when the solver polished with it): the bound CP-SAT proved, with scores
  rounded up; equal to the objective when it proved optimality.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.assignment.indexed import SCALE, Indexed, scaled, weight_units

LP_MAX_VARIABLES = 60_000  # HiGHS on the LP above this many (attendee, breakout) pairs: 2,000 x 96 takes 30 s


@dataclass(frozen=True)
class Bound:
    value: float
    kind: str  # "theme-set flow", "LP relaxation" or "CP-SAT"
    values: dict[str, float]  # every bound computed, by kind


@dataclass(frozen=True)
class ThemeSets:
    value: float  # the theme-set flow bound
    chosen: np.ndarray  # (attendees, themes) bool: the themes the relaxation gives each attendee's free slots


def locked_counts(ix: Indexed) -> tuple[np.ndarray, np.ndarray]:
    """People locked into each breakout, and per (organisation, breakout)."""
    a, s = np.nonzero(ix.lock >= 0)
    b = ix.lock[a, s]
    per_b = np.bincount(b, minlength=ix.n_breakouts)
    per_ob = np.zeros((ix.n_orgs, ix.n_breakouts), dtype=np.int64)
    np.add.at(per_ob, (ix.org[a], b), 1)
    return per_b, per_ob


def locked_value(ix: Indexed, org_weight: float) -> float:
    a, s = np.nonzero(ix.lock >= 0)
    _, per_ob = locked_counts(ix)
    return float(ix.util[a, ix.b_theme[ix.lock[a, s]]].sum()) + org_weight * int((per_ob > 0).sum())


def theme_sets(ix: Indexed, org_weight: float = 0.0, order: np.ndarray | None = None) -> ThemeSets | None:
    """The theme-set flow (module docstring); None when even it has no solution. `order` permutes the attendees'
    arcs (ties between equally good choices go differently per seed)."""
    n, n_themes, n_orgs = ix.n, ix.n_themes, ix.n_orgs
    free = (ix.lock < 0).sum(axis=1)
    locked_theme = np.zeros((n, n_themes), dtype=bool)
    a_l, s_l = np.nonzero(ix.lock >= 0)
    locked_theme[a_l, ix.b_theme[ix.lock[a_l, s_l]]] = True
    per_b, per_ob = locked_counts(ix)
    places = np.bincount(ix.b_theme, weights=ix.b_cap - per_b, minlength=n_themes).astype(np.int64)
    left_org = np.clip(ix.b_orgcap[None, :] - per_ob, 0, None)  # (orgs, breakouts)
    org_places = np.zeros((n_orgs, n_themes), dtype=np.int64)
    np.add.at(org_places.T, ix.b_theme, left_org.T)
    open_b = (per_ob == 0) & (ix.b_orgcap[None, :] > 0)  # the org is not yet present there
    org_open = np.zeros((n_orgs, n_themes), dtype=np.int64)
    np.add.at(org_open.T, ix.b_theme, open_b.T.astype(np.int64))

    ot_node = n  # + org * themes + theme
    theme_node = n + n_orgs * n_themes
    sink = theme_node + n_themes
    flow = min_cost_flow.SimpleMinCostFlow()
    order = np.arange(n) if order is None else order
    allowed = ~locked_theme[order] & (places > 0)[None, :] & (free[order] > 0)[:, None]
    rows, cols = np.nonzero(allowed)
    people = order[rows]
    cost = -scaled(ix.util, up=True)[people, cols]
    first_arc = flow.add_arcs_with_capacity_and_unit_cost(
        people, ot_node + ix.org[people] * n_themes + cols, np.ones_like(people), cost
    )
    del first_arc
    o, t = np.nonzero(org_places > 0)
    bonus = np.minimum(org_open[o, t], org_places[o, t]) if org_weight > 0 else np.zeros_like(o)
    w = weight_units(org_weight, up=True)
    tails = np.concatenate([ot_node + o * n_themes + t, ot_node + o * n_themes + t, theme_node + np.arange(n_themes)])
    heads = np.concatenate([theme_node + t, theme_node + t, np.full(n_themes, sink)])
    caps = np.concatenate([bonus, org_places[o, t] - bonus, np.clip(places, 0, None)])
    costs = np.concatenate([np.full_like(o, -w), np.zeros_like(o), np.zeros(n_themes, dtype=np.int64)])
    keep = caps > 0
    flow.add_arcs_with_capacity_and_unit_cost(tails[keep], heads[keep], caps[keep], costs[keep])
    flow.set_nodes_supplies(np.arange(n), free)
    flow.set_node_supply(sink, -int(free.sum()))
    if flow.solve() != flow.OPTIMAL:
        return None
    used = flow.flows(np.arange(len(people))) > 0
    chosen = np.zeros((n, n_themes), dtype=bool)
    chosen[people[used], cols[used]] = True
    value = -flow.optimal_cost() / SCALE + locked_value(ix, org_weight)
    return ThemeSets(value=value, chosen=chosen)


def lp_bound(ix: Indexed, org_weight: float = 0.0) -> float | None:
    """The LP relaxation's optimum with HiGHS (None if it reports no optimum)."""
    import highspy

    n, n_themes = ix.n, ix.n_themes
    per_b, per_ob = locked_counts(ix)
    locked_theme = np.zeros((n, n_themes), dtype=bool)
    a_l, s_l = np.nonzero(ix.lock >= 0)
    locked_theme[a_l, ix.b_theme[ix.lock[a_l, s_l]]] = True
    # Variables: (attendee, breakout) for free slots and themes the attendee is not locked into.
    free_slot = ix.lock[:, ix.b_slot] < 0  # (n, breakouts)
    ok = free_slot & ~locked_theme[:, ix.b_theme]
    xa, xb = np.nonzero(ok)
    n_x = len(xa)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    row0 = 0

    def block(row_of_x: np.ndarray, n_rows: int, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal row0
        rows.append(row0 + row_of_x)
        cols.append(np.arange(n_x))
        vals.append(np.ones(n_x))
        lower.append(lo)
        upper.append(hi)
        row0 += n_rows

    n_slots = ix.n_slots
    one = np.ones(n * n_slots)
    need = (ix.lock < 0).reshape(-1).astype(float)  # a locked (attendee, slot) row is empty and must be 0
    block(xa * n_slots + ix.b_slot[xb], n * n_slots, need * one, need * one)
    block(xb, ix.n_breakouts, np.full(ix.n_breakouts, -np.inf), (ix.b_cap - per_b).astype(float))
    block(
        ix.org[xa] * ix.n_breakouts + xb,
        ix.n_orgs * ix.n_breakouts,
        np.full(ix.n_orgs * ix.n_breakouts, -np.inf),
        np.clip(ix.b_orgcap[None, :] - per_ob, 0, None).reshape(-1).astype(float),
    )
    block(xa * n_themes + ix.b_theme[xb], n * n_themes, np.full(n * n_themes, -np.inf), np.ones(n * n_themes))
    costs = [ix.util[xa, ix.b_theme[xb]]]
    col_lower = [np.zeros(n_x)]
    col_upper = [np.ones(n_x)]
    if org_weight > 0:  # z_ob <= sum of x over the org's people in b, z in [0, 1]; locked presence is a constant
        zo, zb = np.nonzero(per_ob == 0)
        n_z = len(zo)
        z_row = row0 + np.arange(n_z)
        z_index = np.full((ix.n_orgs, ix.n_breakouts), -1)
        z_index[zo, zb] = np.arange(n_z)
        member = z_index[ix.org[xa], xb]
        has = member >= 0
        rows += [z_row[member[has]], z_row]
        cols += [np.flatnonzero(has), n_x + np.arange(n_z)]
        vals += [-np.ones(int(has.sum())), np.ones(n_z)]
        lower.append(np.full(n_z, -np.inf))
        upper.append(np.zeros(n_z))
        row0 += n_z
        costs.append(np.full(n_z, org_weight))
        col_lower.append(np.zeros(n_z))
        col_upper.append(np.ones(n_z))
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    val = np.concatenate(vals)
    n_cols = sum(len(c) for c in costs)
    by_col = np.lexsort((row, col))
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = row0
    lp.col_cost_ = np.concatenate(costs)
    lp.col_lower_ = np.concatenate(col_lower)
    lp.col_upper_ = np.concatenate(col_upper)
    lp.row_lower_ = np.concatenate(lower)
    lp.row_upper_ = np.concatenate(upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n_cols))]).astype(np.int32)
    lp.a_matrix_.index_ = row[by_col].astype(np.int32)
    lp.a_matrix_.value_ = val[by_col]
    with _quiet_stdout():  # the Highs() constructor prints a banner on fd 1, before any option can stop it
        highs = highspy.Highs()
    highs.silent()
    highs.setOptionValue("threads", 1)
    highs.passModel(lp)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    # The dual objective is the certified bound; allow for the solver's feasibility tolerance.
    value = highs.getInfo().objective_function_value
    return float(value) + 1e-6 * max(1.0, abs(value)) + locked_value(ix, org_weight)


def upper_bound(
    ix: Indexed,
    org_weight: float = 0.0,
    *,
    sets: ThemeSets | None = None,
    lp: bool | None = None,
    known: dict[str, float] | None = None,
) -> Bound:
    """The smallest valid bound computed: the theme-set flow always, the LP when the instance is small (or `lp`),
    and any `known` one (CP-SAT's proven bound when it ran)."""
    values: dict[str, float] = dict(known or {})
    sets = sets or theme_sets(ix, org_weight)
    if sets is not None:
        values["theme-set flow"] = sets.value
    if lp is None:
        lp = ix.n * ix.n_breakouts <= LP_MAX_VARIABLES
    if lp:
        value = lp_bound(ix, org_weight)
        if value is not None:
            values["LP relaxation"] = value
    if not values:
        raise ValueError("no bound: the relaxations have no solution")
    kind = min(values, key=lambda k: values[k])
    return Bound(value=values[kind], kind=kind, values=values)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
