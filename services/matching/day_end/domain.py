"""Pure rules of the day's end: which days are due, and who may be listed as contactable. No database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

# A day that ended longer ago than this when first seen is marked handled without a digest.
MAX_LATE = timedelta(days=7)


def is_due(ends_at: datetime, now: datetime) -> bool:
    return ends_at <= now


def too_late(ends_at: datetime, now: datetime, max_late: timedelta = MAX_LATE) -> bool:
    return now - ends_at > max_late


def contactable(people: Iterable[int], visibilities: Mapping[int, Iterable[str]]) -> list[int]:
    """People who show at least one profile field to everyone at their events. Someone without a saved profile
    has the default one (organisation and region for everyone), so is contactable; someone who hid every field
    from other attendees has opted out of being listed in other people's digests."""
    found = []
    for user_id in sorted(set(people)):
        fields = visibilities.get(user_id)
        if fields is None or "everyone" in set(fields):
            found.append(user_id)
    return found
