"""Beat task of reminders: every 30 s, materialise the reminders that fell due and send them (queue "notify")."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from services.notify import outgoing
from services.notify.reminders import service
from shared.config import env
from shared.events import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify"
SCAN_DUE_REMINDERS = "notify.scan_due_reminders"
SCAN_EVERY_S = float(env("REMINDER_SCAN_S", "30") or 30)  # tests and drills scan faster
BATCH = 50  # reminders per transaction: one commit each instead of one per reminder (measured ~60/s alone)

BEAT_SCHEDULE = {
    "notify-scan-due-reminders": {
        "task": SCAN_DUE_REMINDERS,
        "schedule": SCAN_EVERY_S,
        # A scan waiting in a queue longer than the period is redundant: the next one does its work.
        "options": {"queue": QUEUE, "expires": SCAN_EVERY_S},
    }
}


@shared_task(name=SCAN_DUE_REMINDERS, acks_late=True)
def scan_due_reminders() -> dict[str, int]:
    """Idempotent: everything it decides is in the reminders table, so a repeat or an overlap is harmless.

    One reminder that fails (a database hiccup) is logged and left pending for the next scan; the others go on.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db = app.extensions["db"]
    settings_url = app.config["SETTINGS"].public_url.rstrip("/") + "/preferences"
    now = utcnow()
    made = service.materialise_due(db, now)
    voided = service.void_stale(db)
    sent, failed = 0, 0
    pending = service.pending_ids(db)
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        try:
            made_ids = service.send_batch(db, chunk, utcnow(), settings_url)
        except Exception:
            log.warning("a reminder batch failed; sending its reminders one by one", exc_info=True)
            made_ids = []
            for reminder_id in chunk:
                try:
                    note_id = service.send_one(db, reminder_id, utcnow(), settings_url)
                except Exception:
                    failed += 1
                    log.exception("reminder not sent; the next scan tries again", extra={"reminder_id": reminder_id})
                    continue
                if note_id is not None:
                    made_ids.append(note_id)
        sent += len(made_ids)
        try:
            outgoing.after_commit(app, made_ids)
        except Exception:  # Redis briefly away: the rows are committed, the sweep enqueues their mails later
            log.warning("reminder pushes/enqueues not done; the email sweep takes over", exc_info=True)
    if made or sent or voided or failed:
        log.info(
            "reminders scanned",
            extra={"materialised": made, "sent": sent, "void": voided, "failed": failed},
        )
    return {"materialised": made, "sent": sent, "void": voided, "failed": failed}
