"""Celery app of the posters service (queue "posters"): `celery -A services.posters.worker worker -Q posters`."""

from services.posters.app import create_app
from services.posters.tasks import register_tasks

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
register_tasks(flask_app, celery_app)
