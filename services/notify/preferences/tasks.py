"""Beat task of preferences: bundle held mails into each person's daily digest at their hour (queue "notify")."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from services.notify import outgoing
from services.notify.preferences import digest
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
SEND_DAILY_DIGESTS = "notify.send_daily_digests"
EVERY_S = 60.0

BEAT_SCHEDULE = {
    "notify-send-daily-digests": {
        "task": SEND_DAILY_DIGESTS,
        "schedule": EVERY_S,
        "options": {"queue": QUEUE, "expires": EVERY_S},
    }
}


@shared_task(name=SEND_DAILY_DIGESTS, acks_late=True)
def send_daily_digests() -> int:
    """Idempotent (one bundle per person and local day); one person's failure does not stop the others."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db = app.extensions["db"]
    settings = app.config["SETTINGS"]
    made: list[int] = []
    for user_id in digest.users_with_held_mail(db):
        try:
            note_id = digest.bundle(db, user_id, utcnow(), settings.public_url, settings.secret_key)
        except Exception:
            log.exception("daily digest not made; the next run tries again", extra={"user_id": user_id})
            continue
        if note_id is not None:
            made.append(note_id)
    outgoing.after_commit(app, made)
    return len(made)
