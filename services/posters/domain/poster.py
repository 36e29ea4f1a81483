"""A poster's life: processing -> ready | rejected. Pure rules about order and limits."""

from __future__ import annotations

from collections.abc import Sequence

PROCESSING = "processing"
READY = "ready"
REJECTED = "rejected"
STATUSES = (PROCESSING, READY, REJECTED)

MAX_ATTEMPTS = 3  # a file that crashed the worker this often is rejected instead of retried for ever


class OrderError(ValueError):
    pass


def check_order(current: Sequence[int], requested: Sequence[int]) -> list[int]:
    """The new order must name every current poster exactly once (a stale client must not drop one)."""
    if len(set(requested)) != len(requested):
        raise OrderError("poster_ids contains duplicates")
    if set(requested) != set(current):
        missing = sorted(set(current) - set(requested))
        extra = sorted(set(requested) - set(current))
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"not posters of this project {extra}")
        raise OrderError("poster_ids must list every poster of the project once: " + "; ".join(parts))
    return list(requested)


def can_view(*, status: str, hidden: bool, is_owner: bool, is_organiser: bool) -> bool:
    """Owners and organisers see everything; others see ready files of visible projects."""
    if is_owner or is_organiser:
        return True
    return status == READY and not hidden
