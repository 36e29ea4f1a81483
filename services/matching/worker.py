"""Celery app of the matching service (queue "matching"): `celery -A services.matching.worker worker -Q matching`;
`celery -A services.matching.worker beat` runs the features' periodic tasks (their `BEAT_SCHEDULE`)."""

from services.matching.app import create_app
from services.matching.features import FEATURES

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = FEATURES.beat_schedule()
# Keep beat's state file with the other local state instead of the current directory.
celery_app.conf.beat_schedule_filename = str(flask_app.config["SETTINGS"].var_dir / "matching-celerybeat-schedule")
