"""Notify service: recipients, in-app notifications, emails (Celery + SMTP), live pushes."""

from services.notify.app import create_app

__all__ = ["create_app"]
