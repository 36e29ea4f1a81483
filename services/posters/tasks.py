"""Named Celery tasks of the posters service (ids as arguments, acks_late, retried with backoff)."""

from __future__ import annotations

import logging

from celery import Celery
from flask import Flask
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from services.posters import fair_queue, uploads
from services.posters.adapters.search import index_for
from services.posters.blobs import sweep_orphans
from services.posters.settings import Limits

log = logging.getLogger(__name__)


def register_tasks(app: Flask, celery: Celery) -> None:
    @celery.task(
        name=uploads.TASK_NAME,
        acks_late=True,
        autoretry_for=(OperationalError,),  # database busy/restarting: try again later
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=5,
        soft_time_limit=180,
        time_limit=240,
    )
    def process_upload(poster_id: int) -> str:
        db = app.extensions["db"]
        status = uploads.process_poster(
            db,
            app.extensions["storage"],
            index_for(db.engine.dialect.name),
            Limits.from_config(app.config),
            poster_id,
        )
        log.info("poster processed", extra={"poster_id": poster_id, "status": status})
        return status

    @celery.task(name="posters.requeue_stale", acks_late=True)
    def requeue_stale() -> int:
        """Re-send posters whose task was lost (beat runs this every REQUEUE_EVERY_S). A re-sent poster that is
        already done by then is a no-op (process_upload is idempotent)."""
        ids = uploads.requeue_stale(app.extensions["db"], int(app.config["STALE_AFTER_S"]))
        for poster_id in ids:
            enqueue(app, poster_id)
        return len(ids)

    @celery.task(name="posters.sweep_orphan_blobs", acks_late=True)
    def sweep_orphan_blobs() -> int:
        """Remove files a killed worker wrote but never committed (hourly; only files older than a day)."""
        found = sweep_orphans(app.extensions["db"], app.extensions["storage"], float(app.config["ORPHAN_AFTER_S"]))
        if found:
            log.info("removed orphan blobs", extra={"count": found})
        return found

    celery.conf.beat_schedule = {
        "posters-requeue-stale": {"task": "posters.requeue_stale", "schedule": float(app.config["REQUEUE_EVERY_S"])},
        "posters-sweep-orphan-blobs": {"task": "posters.sweep_orphan_blobs", "schedule": 3600.0},
    }


def enqueue(app: Flask, poster_id: int) -> bool:
    """Ask a worker to process this poster (after its row is committed). If the broker is unreachable the upload
    still stands: `posters.requeue_stale` sends it again later, so the author gets 202, not an error."""
    try:
        priority = fair_queue.priority_for(app.extensions["db"], poster_id)  # per owner: see fair_queue.py
    except SQLAlchemyError:
        log.warning("could not rank poster; sent without priority", extra={"poster_id": poster_id})
        priority = 0
    try:
        app.extensions["celery"].send_task(uploads.TASK_NAME, args=[poster_id], queue="posters", priority=priority)
    except KombuOperationalError:
        log.warning("could not enqueue poster; the stale sweep will retry", extra={"poster_id": poster_id})
        return False
    return True
