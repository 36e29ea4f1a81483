"""Generated instances for benchmarks, tests and simulations (deterministic for a seed).

Themes have a skewed popularity (`skew`); organisations a skewed size, a home region and a mild taste of their own;
every attendee scores their 8 favourite themes 1, ~0.9, ~0.81, ... (a decaying scale with noise) and leaves the rest
unscored. Demand for a theme = attendees with it among their top themes (one per slot). By default breakouts are
shared out between themes in proportion to demand, dealt round-robin over the slots, and sized so that each theme
has `slack` (10 %) more places than its demand. `rooms`: every breakout of a slot the same size instead (the slot
has `slack` more places than attendees); `even`: themes get equal numbers of breakouts whatever their demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.matching.assignment.domain import Attendee, Breakout, Instance, Slot

REGIONS = ("North East", "North West", "Yorkshire", "Midlands", "East", "London", "South East", "South West", "Wales")


@dataclass(frozen=True)
class Shape:
    attendees: int
    orgs: int
    themes: int
    slots: int
    breakouts_per_slot: int


SIZES = {
    300: Shape(300, 15, 12, 3, 8),
    2_000: Shape(2_000, 80, 20, 4, 24),
    10_000: Shape(10_000, 300, 30, 4, 60),
}


def generate(
    shape: Shape,
    *,
    seed: int = 0,
    slack: float = 0.10,
    org_share: float = 0.3,
    scored: int = 8,
    rooms: bool = False,
    even: bool = False,
    skew: float = 0.6,
) -> Instance:
    rng = np.random.default_rng(seed)
    n, n_themes, n_slots = shape.attendees, shape.themes, shape.slots
    themes = [f"theme {i + 1:02d}" for i in range(n_themes)]
    popularity = 1.0 / np.arange(1, n_themes + 1) ** skew
    popularity = rng.permutation(popularity)
    org_size = 1.0 / np.arange(1, shape.orgs + 1) ** 0.8
    org_of = rng.choice(shape.orgs, size=n, p=org_size / org_size.sum())
    org_taste = rng.normal(0.0, 0.4, size=(shape.orgs, n_themes))
    org_region = rng.integers(0, len(REGIONS), size=shape.orgs)
    latent = np.log(popularity)[None, :] + org_taste[org_of] + rng.gumbel(0.0, 0.7, size=(n, n_themes))
    order = np.argsort(-latent, axis=1)
    k = min(scored, n_themes)
    scale = 0.9 ** np.arange(k)
    scores = np.round(np.clip(scale[None, :] * (1 - rng.uniform(0, 0.04, size=(n, k))), 0, 1), 3)
    scores[:, 0] = 1.0
    attendees = []
    for i in range(n):
        prefs = {themes[int(order[i, r])]: float(scores[i, r]) for r in range(k)}
        org = int(org_of[i])
        attendees.append(Attendee(f"p{i + 1}", f"org {org + 1:03d}", REGIONS[int(org_region[org])], prefs))

    # Demand: attendees with the theme among their top `slots` themes.
    demand = np.bincount(order[:, :n_slots].reshape(-1), minlength=n_themes).astype(float)
    total = n_slots * shape.breakouts_per_slot
    count = _apportion(np.ones(n_themes) if even else demand, total)
    tokens = [t for t in np.argsort(-count, kind="stable") for _ in range(int(count[t]))]
    per_slot: list[list[int]] = [[] for _ in range(n_slots)]
    for i, t in enumerate(tokens):
        per_slot[i % n_slots].append(int(t))
    capacity = [max(1, math.ceil((1 + slack) * demand[t] / count[t])) for t in range(n_themes)]
    room = math.ceil((1 + slack) * n / shape.breakouts_per_slot)
    slots = []
    for s, ts in enumerate(per_slot):
        if rooms:  # equal rooms: the slot has `slack` more places than attendees, themes get whole rooms
            caps = [room] * len(ts)
        else:
            caps = [capacity[t] for t in ts]
        short = n * (1 + slack / 2) - sum(caps)
        if short > 0:  # a slot dealt mostly small themes: grow it to hold everyone
            caps = [c + math.ceil(short * c / sum(caps)) for c in caps]
        breakouts = tuple(
            Breakout(f"s{s + 1}b{j + 1:02d}", themes[t], c) for j, (t, c) in enumerate(zip(ts, caps, strict=True))
        )
        slots.append(Slot(f"slot {s + 1}", breakouts))
    return Instance(org_share, tuple(themes), tuple(slots), tuple(attendees))


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers >= 1 summing to `total`, proportional to `weights` (largest remainder)."""
    n = len(weights)
    base = np.ones(n, dtype=np.int64)
    left = total - n
    if left <= 0:
        return base
    quota = weights / weights.sum() * left
    base += np.floor(quota).astype(np.int64)
    rest = total - int(base.sum())
    base[np.argsort(-(quota - np.floor(quota)), kind="stable")[:rest]] += 1
    return base
