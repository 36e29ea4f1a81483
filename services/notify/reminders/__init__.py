"""Reminders before each booked chat, assigned breakout and coffee: due rows scanned by Celery beat."""
