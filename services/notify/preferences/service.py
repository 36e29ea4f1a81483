"""Use cases of preferences: read and change a person's choices, and the one-click unsubscribe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.notify.preferences import domain
from services.notify.preferences.models import NotificationSettings
from shared.db import Database


@dataclass(frozen=True)
class Changes:
    """What a PUT asks to change; None leaves that part as it is."""

    categories: dict[str, dict[str, Any]] | None = None
    reminder_offsets_minutes: list[int] | None = None
    digest_hour: int | None = None
    timezone: str | None = None


def _row(session: Session, user_id: int) -> NotificationSettings:
    row = session.get(NotificationSettings, user_id, with_for_update=True)
    if row is None:
        row = NotificationSettings(
            user_id=user_id,
            channels=domain.default_channels(),
            reminder_offsets=None,
            digest_hour=domain.DEFAULT_DIGEST_HOUR,
            timezone="UTC",
        )
        session.add(row)
    return row


def view(row: NotificationSettings | None) -> dict[str, Any]:
    channels = row.channels if row else None
    categories = {}
    for category in domain.CATEGORIES:
        decision = domain.decide_from(channels, category)
        categories[category] = {"in_app": decision.in_app, "email": decision.email}
    offsets = domain.offsets_from(row.reminder_offsets if row else None)
    return {
        "categories": categories,
        "reminder_offsets_minutes": [int(o.total_seconds() // 60) for o in offsets],
        "digest_hour": row.digest_hour if row else domain.DEFAULT_DIGEST_HOUR,
        "timezone": row.timezone if row else "UTC",
        "no_digest_categories": sorted(domain.NO_DIGEST),
    }


def get_settings(db: Database, user_id: int) -> dict[str, Any]:
    with db.unit_of_work() as session:
        return view(session.get(NotificationSettings, user_id))


def change_settings(db: Database, user_id: int, changes: Changes) -> dict[str, Any]:
    with db.unit_of_work() as session:
        row = _row(session, user_id)
        if changes.categories is not None:
            # A new dict, not an in-place change: the JSON column only notices a new value.
            merged = {**domain.default_channels(), **(row.channels or {})}
            for category, choice in changes.categories.items():
                merged[category] = {**merged.get(category, {}), **choice}
            row.channels = merged
        if changes.reminder_offsets_minutes is not None:
            row.reminder_offsets = sorted(set(changes.reminder_offsets_minutes), reverse=True)
        if changes.digest_hour is not None:
            row.digest_hour = changes.digest_hour
        if changes.timezone is not None:
            row.timezone = changes.timezone
        session.flush()
        return view(row)


def unsubscribe(db: Database, user_id: int, category: str) -> dict[str, Any]:
    """The category's email off (in-app stays as it was). Repeating it changes nothing."""
    return change_settings(db, user_id, Changes(categories={category: {"email": "off"}}))


def current_email_mode(db: Database, user_id: int, category: str) -> str:
    with db.unit_of_work() as session:
        row = session.get(NotificationSettings, user_id)
        return domain.decide_from(row.channels if row else None, category).email
