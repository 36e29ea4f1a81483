"""Two timetables to compare the solver with: random placement, and the greedy "most popular pairs apart" (the
hand method: place the most wanted sessions first, each into the slot where it clashes with the fewest people).
Both respect rooms, windows and locks; the greedy also keeps same-slot groups together when it can."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

from services.matching.timetable.domain import Id, Problem, SessionSpec, allowed_slots


def _room_left(problem: Problem) -> list[float]:
    return [float("inf") if s.rooms is None else float(s.rooms) for s in problem.slots]


def random_placement(problem: Problem, seed: int = 0) -> dict[Id, Id]:
    rng = random.Random(seed)
    allowed = allowed_slots(problem)
    left = _room_left(problem)
    placement: dict[Id, Id] = {}
    # Locked and narrow sessions first, so that a random order does not leave them without a room.
    order = sorted(problem.sessions, key=lambda s: (len(allowed[s.id]), rng.random()))
    for s in order:
        options = [t for t in allowed[s.id] if left[t] >= 1] or allowed[s.id] or list(range(len(problem.slots)))
        t = rng.choice(options)
        left[t] -= 1
        placement[s.id] = problem.slots[t].id
    return placement


def pair_popularity(problem: Problem) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """People wanting each theme, and each pair of themes together (among their top-k)."""
    themes: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for profile in problem.profiles:
        for h in profile.themes:
            themes[h] += profile.count
        for pair in combinations(profile.themes, 2):  # profile themes are sorted
            pairs[pair] += profile.count
    return themes, pairs


def greedy_pairs_apart(problem: Problem) -> dict[Id, Id]:
    """Most wanted session first, into the allowed slot with room whose sessions are least often wanted together
    with it (ties: the emptier slot, then the earlier)."""
    allowed = allowed_slots(problem)
    left = _room_left(problem)
    demand, pairs = pair_popularity(problem)
    themes_in: list[list[str]] = [[] for _ in problem.slots]
    presenters_in: list[set[str]] = [set() for _ in problem.slots]
    placement: dict[Id, Id] = {}
    by_id = {s.id: s for s in problem.sessions}
    order = sorted(
        problem.sessions, key=lambda s: (s.locked_to is None, len(allowed[s.id]), -demand[s.theme], str(s.id))
    )
    for s in order:
        if s.id in placement:
            continue
        partner = by_id.get(s.same_slot_as) if s.same_slot_as is not None else None
        group = [s] + ([partner] if partner is not None and partner.id not in placement else [])
        options = (
            [t for t in allowed[s.id] if left[t] >= len(group)] or allowed[s.id] or list(range(len(problem.slots)))
        )

        def clash(t: int, group: list[SessionSpec] = group, s: SessionSpec = s) -> tuple[float, int, int, float]:
            together = sum(pairs[_pair(g.theme, h)] for g in group for h in themes_in[t])
            own_theme = sum(1 for g in group for h in themes_in[t] if h == g.theme)  # a theme twice in a slot is waste
            apart = s.not_same_slot_as is not None and placement.get(s.not_same_slot_as) == problem.slots[t].id
            busy = any(g.presenter and g.presenter in presenters_in[t] for g in group)
            return (float(apart or busy), own_theme, together, -left[t])

        t = min(options, key=lambda t: (clash(t), t))
        for g in group:
            placement[g.id] = problem.slots[t].id
            themes_in[t].append(g.theme)
            if g.presenter:
                presenters_in[t].add(g.presenter)
            left[t] -= 1
    return placement


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)
