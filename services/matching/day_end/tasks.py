"""Matching's beat task for the day's end (queue "matching"): named, idempotent, safe to run twice at once."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from services.matching.day_end import service
from shared.config import env
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "matching"
ANNOUNCE_ENDED_DAYS = "matching.announce_ended_days"
EVERY_S = float(env("DAY_END_CHECK_EVERY_S", "30") or 30)

BEAT_SCHEDULE = {
    "matching-announce-ended-days": {
        "task": ANNOUNCE_ENDED_DAYS,
        "schedule": EVERY_S,
        "options": {"queue": QUEUE, "expires": EVERY_S},  # a backlog of missed ticks is not worth running
    }
}


@shared_task(name=ANNOUNCE_ENDED_DAYS, acks_late=True)
def announce_ended_days() -> list[int]:
    clock = current_app.config.get("DAY_END_CLOCK") or utcnow
    announced = service.announce_due_days(current_app.extensions["db"], clock())
    if announced:
        log.info("insight days ended", extra={"insight_days": announced})
    return announced
