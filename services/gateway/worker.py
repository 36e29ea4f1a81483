"""Celery app of the gateway (queue "gateway"): `celery -A services.gateway.worker worker -Q gateway`."""

from services.gateway.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
