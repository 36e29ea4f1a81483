"""Use cases of the calendar feed: the person's entries as iCalendar, and the secret feed token."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.notify.calendar import ics
from services.notify.calendar.models import CalendarEntry, CalendarToken
from shared.db import Database
from shared.events import utcnow

TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
FEED_NAME = "Insight Days"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed(db: Database, user_id: int) -> str:
    """Every chat, breakout and coffee of the person, cancelled ones included (STATUS:CANCELLED) so a
    subscribed calendar removes what it showed before."""
    with db.unit_of_work() as session:
        entries = session.scalars(
            select(CalendarEntry).where(CalendarEntry.user_id == user_id).order_by(CalendarEntry.starts_at)
        ).all()
        items = [
            ics.Item(
                kind=e.kind,
                subject_id=e.subject_id,
                title=e.title,
                description=e.description,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                timezone=e.timezone,
                join_url=e.join_url,
                status=e.status,
                sequence=e.sequence,
            )
            for e in entries
        ]
    return ics.feed(items, now=utcnow(), name=FEED_NAME)


def token_created_at(db: Database, user_id: int) -> str | None:
    with db.unit_of_work() as session:
        row = session.get(CalendarToken, user_id)
        return row.created_at.isoformat() if row else None


def create_token(db: Database, user_id: int) -> str:
    """A new secret for the feed URL, replacing any earlier one; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with db.unit_of_work() as session:
        session.execute(delete(CalendarToken).where(CalendarToken.user_id == user_id))
        session.add(CalendarToken(user_id=user_id, token_hash=_hash(token), created_at=utcnow()))
    return token


def revoke_token(db: Database, user_id: int) -> bool:
    with db.unit_of_work() as session:
        return bool(session.execute(delete(CalendarToken).where(CalendarToken.user_id == user_id)).rowcount)


def user_for_token(session: Session, token: str) -> int | None:
    """The owner of a genuine, current token; None for a tampered, revoked or malformed one."""
    if not TOKEN_SHAPE.match(token):
        return None
    return session.scalar(select(CalendarToken.user_id).where(CalendarToken.token_hash == _hash(token)))


def feed_for_token(db: Database, token: str) -> str | None:
    with db.unit_of_work() as session:
        user_id = user_for_token(session, token)
    return None if user_id is None else feed(db, user_id)
