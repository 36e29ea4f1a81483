"""Celery task of timetable runs (queue "matching"): named, the run id as argument, acks_late, idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery, shared_task
from flask import current_app

from services.matching.timetable import service
from shared.config import env
from shared.push import Pusher

log = logging.getLogger(__name__)

QUEUE = "matching"
RUN_TIMETABLE = "matching.run_timetable"


def enqueue_run(celery: Celery, run_id: int) -> None:
    celery.send_task(RUN_TIMETABLE, args=[run_id], queue=QUEUE)


def stale_after() -> timedelta:
    """How long a queued or running run may stay silent (the ticker writes every second) before its task is taken
    as lost and sent again."""
    configured = current_app.config.get("TIMETABLE_STALE_S") or env("TIMETABLE_STALE_S", "120")
    return timedelta(seconds=float(configured))


@shared_task(name=RUN_TIMETABLE, acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def run_timetable(run_id: int) -> str:
    pusher: Pusher = current_app.extensions["matching_pusher"]
    outcome = service.execute_run(current_app.extensions["db"], run_id, pusher.emit_to_user, stale_after())
    log.info("timetable run finished", extra={"run_id": run_id, "outcome": outcome})
    return outcome
