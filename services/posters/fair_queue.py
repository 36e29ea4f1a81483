"""Fair queuing of uploads in the posters worker: one person's 500 uploads must not starve another's single one.

Celery's Redis transport keeps one list per priority step and always takes from the best non-empty list first
(`priority_steps`, 0 = first). An upload is sent with the number of its owner's posters still waiting as its
priority: a person's first waiting file goes in at 0, their next at 1, and so on up to 9. Someone else's single
upload goes in at 0 and is taken before the bulk uploader's second file, however many they queued. Within a step
the order stays first come, first served.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.posters.adapters.orm import PosterRow
from services.posters.domain.poster import PROCESSING
from shared.db import Database

LEVELS = 10  # 0..9, Celery's priority range for Redis
TRANSPORT_OPTIONS: dict[str, Any] = {"priority_steps": list(range(LEVELS)), "queue_order_strategy": "priority"}


def priority_for_waiting(waiting_before: int) -> int:
    """The priority of an upload whose owner already has `waiting_before` files waiting (0 is served first)."""
    return max(0, min(waiting_before, LEVELS - 1))


def priority_for(db: Database, poster_id: int) -> int:
    with db.unit_of_work() as session:
        owner_id = session.scalar(select(PosterRow.owner_id).where(PosterRow.id == poster_id))
        if owner_id is None:
            return 0
        waiting = session.scalar(
            select(func.count(PosterRow.id)).where(
                PosterRow.owner_id == owner_id, PosterRow.status == PROCESSING, PosterRow.id < poster_id
            )
        )
    return priority_for_waiting(int(waiting or 0))
