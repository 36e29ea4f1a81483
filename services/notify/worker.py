"""Celery app of the notify service (queue "notify").

celery -A services.notify.worker worker -Q notify
celery -A services.notify.worker beat          # runs the sweep every 30 s
"""

from services.notify.app import create_app
from services.notify.features import FEATURES
from services.notify.tasks import QUEUE, SWEEP_UNSENT

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = {
    "notify-sweep-unsent-emails": {"task": SWEEP_UNSENT, "schedule": 30.0, "options": {"queue": QUEUE}},
    **FEATURES.beat_schedule(),
}
# Keep beat's state file with the other local state instead of the current directory.
celery_app.conf.beat_schedule_filename = str(flask_app.config["SETTINGS"].var_dir / "notify-celerybeat-schedule")
