"""Celery tasks of the follow-up (queue "notify"): named, ids as arguments, acks_late, idempotent.

- notify.followup.write_digests(batch_id): the digests of one batch of a day's attendees;
- notify.followup.resume_digests (beat): batches pending for a while are enqueued again;
- notify.followup.send_due_surveys (beat): the survey, FOLLOWUP_SURVEY_DAYS after the day;
- notify.followup.remind_open_actions (beat): weekly reminders of open follow-up actions.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery, shared_task
from flask import Flask, current_app

from services.notify import outgoing
from services.notify.followup import service
from shared.config import Settings, env
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
WRITE_DIGESTS = "notify.followup.write_digests"
RESUME_DIGESTS = "notify.followup.resume_digests"
SEND_DUE_SURVEYS = "notify.followup.send_due_surveys"
REMIND_OPEN_ACTIONS = "notify.followup.remind_open_actions"
BATCH_STALE = timedelta(minutes=5)
SURVEY_CHUNK = 200

BEAT_SCHEDULE = {
    "notify-followup-resume-digests": {"task": RESUME_DIGESTS, "schedule": 60.0, "options": {"queue": QUEUE}},
    "notify-followup-send-due-surveys": {"task": SEND_DUE_SURVEYS, "schedule": 60.0, "options": {"queue": QUEUE}},
    "notify-followup-remind-open-actions": {
        "task": REMIND_OPEN_ACTIONS,
        "schedule": 3600.0,
        "options": {"queue": QUEUE},
    },
}


def settings_of(app: Flask) -> tuple[int, int]:
    """(FOLLOWUP_SURVEY_DAYS, FOLLOWUP_DIGEST_BATCH) from create_app config, else the environment."""
    days = app.config.get("FOLLOWUP_SURVEY_DAYS") or env("FOLLOWUP_SURVEY_DAYS", "7")
    batch = app.config.get("FOLLOWUP_DIGEST_BATCH") or env("FOLLOWUP_DIGEST_BATCH", "100")
    return max(0, int(days or 7)), max(1, int(batch or 100))


def enqueue_batches(celery: Celery, batch_ids: list[int]) -> None:
    for batch_id in batch_ids:
        celery.send_task(WRITE_DIGESTS, args=[batch_id], queue=QUEUE)


@shared_task(name=WRITE_DIGESTS, acks_late=True, autoretry_for=(ConnectionError,), max_retries=5, retry_backoff=2)
def write_digests(batch_id: int) -> int:
    settings: Settings = current_app.config["SETTINGS"]
    made = service.write_batch(current_app.extensions["db"], batch_id, settings.public_url)
    outgoing.after_commit(current_app._get_current_object(), made)  # type: ignore[attr-defined]
    return len(made)


@shared_task(name=RESUME_DIGESTS, acks_late=True)
def resume_digests() -> int:
    ids = service.stale_batches(current_app.extensions["db"], utcnow() - BATCH_STALE)
    enqueue_batches(current_app.extensions["celery"], ids)
    if ids:
        log.info("digest batches enqueued again", extra={"count": len(ids)})
    return len(ids)


@shared_task(name=SEND_DUE_SURVEYS, acks_late=True)
def send_due_surveys() -> int:
    """Each chunk commits on its own and the notification key makes a re-run a no-op, so a worker killed half
    way only leaves the rest for the next tick."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db = app.extensions["db"]
    settings: Settings = app.config["SETTINGS"]
    sent = 0
    for event_id in service.due_surveys(db, utcnow()):
        audience = service.survey_audience(db, event_id)
        for start in range(0, len(audience), SURVEY_CHUNK):
            made = service.invite_chunk(
                db, event_id, audience[start : start + SURVEY_CHUNK], settings.public_url, settings.secret_key
            )
            outgoing.after_commit(app, made)
            sent += len(made)
        service.mark_survey_sent(db, event_id)
        log.info("follow-up survey sent", extra={"insight_day": event_id})
    return sent


@shared_task(name=REMIND_OPEN_ACTIONS, acks_late=True)
def remind_open_actions() -> int:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    made = service.remind_open_actions(app.extensions["db"], utcnow())
    outgoing.after_commit(app, made)
    return len(made)
