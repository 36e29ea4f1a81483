"""An instance as integer-indexed numpy arrays, what the solver, the bound and the greedy baseline work on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.matching.assignment.domain import Assignment, Instance, Locks, check_locks, org_cap

SCALE = 10_000  # score units per point: flow costs are integers, a score of 0.8 costs -8000


@dataclass(frozen=True)
class Indexed:
    instance: Instance
    util: np.ndarray  # (attendees, themes) float scores, 0 where unscored
    org: np.ndarray  # (attendees,) organisation index
    n_orgs: int
    b_slot: np.ndarray  # (breakouts,) slot index, breakouts numbered in slot order
    b_theme: np.ndarray  # (breakouts,) theme index
    b_cap: np.ndarray  # (breakouts,) capacity
    b_orgcap: np.ndarray  # (breakouts,) most people from one organisation
    slot_breakouts: tuple[np.ndarray, ...]  # breakout indices per slot
    lock: np.ndarray  # (attendees, slots) locked breakout index or -1

    @property
    def n(self) -> int:
        return int(self.util.shape[0])

    @property
    def n_themes(self) -> int:
        return int(self.util.shape[1])

    @property
    def n_slots(self) -> int:
        return len(self.slot_breakouts)

    @property
    def n_breakouts(self) -> int:
        return int(self.b_cap.shape[0])

    def to_assignment(self, choice: np.ndarray) -> Assignment:
        """(attendees, slots) breakout indices -> {attendee id: [breakout id per slot]}."""
        ids = [b.id for slot in self.instance.slots for b in slot.breakouts]
        return {str(a.id): [ids[int(k)] for k in choice[i]] for i, a in enumerate(self.instance.attendees)}

    def from_assignment(self, assignment: Assignment) -> np.ndarray:
        index = {str(b.id): k for k, (_, b) in enumerate(self.instance.breakouts())}
        choice = np.full((self.n, self.n_slots), -1, dtype=np.int64)
        for i, a in enumerate(self.instance.attendees):
            for s, bid in enumerate(assignment.get(str(a.id), [])[: self.n_slots]):
                if bid is not None:
                    choice[i, s] = index[str(bid)]
        return choice


def index(instance: Instance, locks: Locks | None = None) -> Indexed:
    check_locks(instance, locks or {})
    theme_index = {t: i for i, t in enumerate(instance.themes)}
    n, n_themes = len(instance.attendees), len(instance.themes)
    util = np.zeros((n, n_themes), dtype=np.float64)
    orgs: dict[str, int] = {}
    org = np.zeros(n, dtype=np.int64)
    for i, a in enumerate(instance.attendees):
        for theme, score in a.prefs.items():
            util[i, theme_index[theme]] = score
        org[i] = orgs.setdefault(a.org, len(orgs))
    flat = instance.breakouts()
    b_slot = np.array([s for s, _ in flat], dtype=np.int64)
    b_theme = np.array([theme_index[b.theme] for _, b in flat], dtype=np.int64)
    b_cap = np.array([b.capacity for _, b in flat], dtype=np.int64)
    b_orgcap = np.array([org_cap(b.capacity, instance.org_share) for _, b in flat], dtype=np.int64)
    slot_breakouts = tuple(np.flatnonzero(b_slot == s) for s in range(len(instance.slots)))
    lock = np.full((n, len(instance.slots)), -1, dtype=np.int64)
    if locks:
        attendee_index = {str(a.id): i for i, a in enumerate(instance.attendees)}
        slot_index = {str(s.id): k for k, s in enumerate(instance.slots)}
        breakout_index = {str(b.id): k for k, (_, b) in enumerate(flat)}
        for (aid, sid), bid in locks.items():
            lock[attendee_index[str(aid)], slot_index[str(sid)]] = breakout_index[str(bid)]
    return Indexed(instance, util, org, len(orgs), b_slot, b_theme, b_cap, b_orgcap, slot_breakouts, lock)


def scaled(util: np.ndarray, *, up: bool = False) -> np.ndarray:
    """Scores as integer flow units; rounded up (`up`) when the result must stay an upper bound."""
    values = util * SCALE
    return (np.ceil(values - 1e-9) if up else np.rint(values)).astype(np.int64)


def weight_units(org_weight: float, *, up: bool = False) -> int:
    value = org_weight * SCALE
    return int(math.ceil(value - 1e-9) if up else round(value))
