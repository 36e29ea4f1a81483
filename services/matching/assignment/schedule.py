"""Why each person is where they are, in words, from a finished assignment (pure: no Flask, no database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}
RANK_SCORES = (1.0, 0.8, 0.6, 0.4, 0.3)  # the score of an attendee's 1st..5th theme for the solver


def ordinal(rank: int) -> str:
    return ORDINALS.get(rank, f"{rank}th")


def prefs_from_ranking(themes: Sequence[str]) -> dict[str, float]:
    """Ranked themes (best first) as the solver's scores: 1st > 2nd > 3rd > ... > unranked (0)."""
    return {theme: RANK_SCORES[i] for i, theme in enumerate(themes[: len(RANK_SCORES)])}


@dataclass(frozen=True)
class Seat:
    slot_id: int
    breakout_id: int
    theme: str


def reasons(
    ranking: Sequence[str],
    own_org: str,
    seats: Sequence[Seat],
    orgs_in_breakout: Mapping[int, set[str]],
) -> list[str]:
    """One reason per seat, in slot order: the theme's rank for this person and the organisations they will meet
    that they have not met in an earlier breakout of the day."""
    met: set[str] = set()
    found: list[str] = []
    for seat in seats:
        parts: list[str] = []
        if seat.theme in ranking:
            parts.append(f"your {ordinal(ranking.index(seat.theme) + 1)} choice")
        else:
            parts.append("a theme you did not rank, to give everyone a place")
        others = orgs_in_breakout.get(seat.breakout_id, set()) - {own_org}
        new = others - met
        if new:
            noun = "organisation" if len(new) == 1 else "organisations"
            parts.append(f"you will meet people from {len(new)} {noun} you have not met")
        met |= others
        found.append(", ".join(parts))
    return found
