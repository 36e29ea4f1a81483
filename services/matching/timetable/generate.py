"""Instances with a hidden clash-free timetable, for benchmarks and tests (deterministic for a seed).

Hide one: sessions are dealt into the slots (`rooms` per slot, all rooms used), each with a theme of its own except
a few popular themes offered twice (in different slots); every attendee then picks k sessions from k distinct
slots of that hidden placement, by a skewed (Zipf-like) popularity, with distinct themes. So in the hidden
timetable everyone is clash-free, and no timetable can do better: the hidden share is 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Shape:
    attendees: int
    slots: int
    rooms: int
    repeated_themes: int  # popular themes offered in two slots
    orgs: int


SIZES = {
    300: Shape(300, 3, 6, 1, 15),
    2_000: Shape(2_000, 4, 10, 2, 80),
    10_000: Shape(10_000, 4, 15, 3, 300),
}


def generate(shape: Shape, seed: int = 0, k: int = 3, skew: float = 0.9) -> tuple[dict[str, Any], dict[str, str]]:
    """(instance in the `timetable` command's format, the hidden timetable {session id: slot id})."""
    rng = np.random.default_rng(seed)
    slot_ids = [f"t{i + 1}" for i in range(shape.slots)]
    count = shape.slots * shape.rooms
    session_ids = [f"s{i + 1}" for i in range(count)]
    hidden_slot = np.repeat(np.arange(shape.slots), shape.rooms)
    rng.shuffle(hidden_slot)
    popularity = 1.0 / np.arange(1, count + 1) ** skew
    rng.shuffle(popularity)
    themes = [f"theme {i + 1}" for i in range(count)]
    # The most popular sessions' themes are also given to a session in another slot (a theme offered twice).
    repeated = 0
    for a in np.argsort(-popularity):
        if repeated == shape.repeated_themes:
            break
        b = next(
            (
                int(j)
                for j in np.argsort(popularity)
                if hidden_slot[j] != hidden_slot[a] and themes[j] == f"theme {j + 1}"
            ),
            None,
        )
        if b is not None and themes[int(a)] == f"theme {int(a) + 1}":
            themes[b] = themes[int(a)]
            repeated += 1
    by_slot = [np.flatnonzero(hidden_slot == t) for t in range(shape.slots)]
    attendees = []
    for person in range(shape.attendees):
        wanted: list[int] = []
        for t in rng.permutation(shape.slots)[:k]:
            pool = [j for j in by_slot[t] if themes[j] not in {themes[w] for w in wanted}]
            weights = popularity[pool] / popularity[pool].sum()
            wanted.append(int(rng.choice(pool, p=weights)))
        attendees.append(
            {
                "id": person + 1,
                "org": f"org {int(rng.integers(shape.orgs)) + 1}",
                "wants": [session_ids[j] for j in wanted],
            }
        )
    instance = {
        "slots": [{"id": sid, "rooms": shape.rooms} for sid in slot_ids],
        "sessions": [
            {"id": session_ids[j], "theme": themes[j], "capacity": 10 * shape.attendees // count} for j in range(count)
        ],
        "attendees": attendees,
    }
    hidden = {session_ids[j]: slot_ids[int(hidden_slot[j])] for j in range(count)}
    return instance, hidden
