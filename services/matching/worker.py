"""Celery app of the matching service (queue "matching"): `celery -A services.matching.worker worker -Q matching`."""

from services.matching.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
