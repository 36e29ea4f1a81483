"""JSON shapes of the notify service's rows (the API and the live push send the same shape)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notify.adapters.orm import Email, Notification


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def notification_push(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "created_at": _iso(row.created_at),
    }


def notification_json(row: Notification) -> dict[str, Any]:
    return {**notification_push(row), "read_at": _iso(row.read_at), "read": row.read_at is not None}


def email_problem_json(row: Email) -> dict[str, Any]:
    """What organisers see of a mail that failed or may not have arrived (no body: it may be personal)."""
    return {
        "id": row.id,
        "user_id": row.user_id,
        "to_address": row.to_address,
        "subject": row.subject,
        "category": row.category,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "message_id": row.message_id,
    }
