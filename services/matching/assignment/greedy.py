"""First-come sign-up, the baseline: attendees book one after another (in an order drawn from the seed), each taking
the best day still open to them (one breakout per slot, no theme twice, where a place is left and their organisation
is under the breakout's cap). A generous baseline: each person plans their whole day, not slot by slot. Whoever
finds a slot with nothing open is left out of that slot."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from services.matching.assignment.domain import Instance, Locks
from services.matching.assignment.indexed import Indexed, index

NONE = -1
_CLOSED = -1e9


def greedy_choice(ix: Indexed, seed: int = 0) -> np.ndarray:
    """(attendees, slots) breakout indices, -1 where the attendee was left out."""
    n_slots, n_themes = ix.n_slots, ix.n_themes
    load = np.zeros(ix.n_breakouts, dtype=np.int64)
    load_org = np.zeros((ix.n_orgs, ix.n_breakouts), dtype=np.int64)
    choice = ix.lock.copy()
    a_l, s_l = np.nonzero(ix.lock >= 0)
    np.add.at(load, ix.lock[a_l, s_l], 1)
    np.add.at(load_org, (ix.org[a_l], ix.lock[a_l, s_l]), 1)
    # Per slot, a (themes, breakouts-of-the-slot) table to find each theme's emptiest open breakout.
    slot_b = [ix.slot_breakouts[s] for s in range(n_slots)]
    for a in np.random.default_rng(seed).permutation(ix.n):
        o = ix.org[a]
        free = [s for s in range(n_slots) if choice[a, s] < 0]
        if not free:
            continue
        taken = np.zeros(n_themes, dtype=bool)
        taken[ix.b_theme[choice[a][choice[a] >= 0]]] = True
        value = np.full((len(free), n_themes), _CLOSED)
        best_b = np.full((len(free), n_themes), NONE, dtype=np.int64)
        for k, s in enumerate(free):
            b = slot_b[s]
            room = ix.b_cap[b] - load[b]
            open_ = (room > 0) & (load_org[o, b] < ix.b_orgcap[b]) & ~taken[ix.b_theme[b]]
            if not open_.any():
                continue
            cand = b[open_]
            roomy = np.argsort(-room[open_], kind="stable")  # emptiest first: per theme, keep the first seen
            themes = ix.b_theme[cand[roomy]]
            first = np.unique(themes, return_index=True)[1]
            best_b[k, themes[first]] = cand[roomy][first]
            value[k, themes[first]] = ix.util[a, themes[first]]
        rows, cols = linear_sum_assignment(value, maximize=True)
        for k, t in zip(rows, cols, strict=True):
            b = best_b[k, t]
            if b == NONE:
                continue
            choice[a, free[k]] = b
            load[b] += 1
            load_org[o, b] += 1
    return choice


def greedy(instance: Instance, *, locks: Locks | None = None, seed: int = 0) -> dict[str, list[object]]:
    """The baseline as an assignment {attendee id: [breakout id or None per slot]}."""
    ix = index(instance, locks)
    choice = greedy_choice(ix, seed)
    ids = [b.id for _, b in instance.breakouts()]
    return {str(a.id): [ids[int(k)] if k >= 0 else None for k in choice[i]] for i, a in enumerate(instance.attendees)}
