"""The one way features tell someone something: `notify()` inside the caller's unit of work, then
`after_commit()` once that committed.

Each notification has a deterministic key (user_id, kind, subject_key, version), unique in the database: making
the same one twice (a redelivered event, a retried task, a reminder scan running twice) is a no-op. Whether it
shows in the app and whether (and when) it is mailed is the person's choice per category (preferences' `decide`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.notify.adapters.orm import Email, Notification, Recipient
from services.notify.domain import rules
from services.notify.domain.messages import one_line
from shared.events import utcnow

log = logging.getLogger(__name__)

HELD = "held"  # an email waiting for the person's daily digest (preferences: email="daily")
_POLICY_MODULE = "services.notify.preferences.policy"


@dataclass(frozen=True)
class _AllowAll:
    in_app: bool = True
    email: Literal["now", "daily", "off"] = "now"


def _policy() -> Any | None:
    """Preferences' policy module, or None while that feature does not exist (then everything is allowed)."""
    try:
        return importlib.import_module(_POLICY_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _POLICY_MODULE.startswith(exc.name):
            return None
        raise


def decide(session: Session, user_id: int, category: str) -> Any:
    policy = _policy()
    return _AllowAll() if policy is None else policy.decide(session, user_id, category)


def unsubscribe_url(public_url: str, secret: str, user_id: int, category: str) -> str | None:
    policy = _policy()
    return None if policy is None else policy.unsubscribe_url(public_url, secret, user_id, category)


def notify(
    session: Session,
    *,
    user_id: int,
    kind: str,
    category: str,
    subject_key: str,
    version: int,
    title: str,
    text: str,
    html: str | None = None,
    link: str = "",
    ics: str | None = None,
    email: bool = True,
    push: bool = True,
    summary: str | None = None,
) -> Notification | None:
    """One notification (and its email when the person wants mail for `category`), or None when this key was
    made before or the person is unknown to notify (no UserRegistered seen: logged and skipped).

    `title` is the in-app title and the email subject; `text` the plain-text mail (and the in-app body unless a
    shorter `summary` is given); `html` the HTML alternative; `ics` a VCALENDAR attached as invite.ics. Nothing
    is pushed or sent here: call `after_commit(app, ids)` once the caller's unit of work committed.
    """
    key = (
        Notification.user_id == user_id,
        Notification.kind == kind,
        Notification.subject_key == subject_key,
        Notification.version == version,
    )
    if session.scalar(select(Notification.id).where(*key)) is not None:
        return None
    recipient = session.get(Recipient, user_id)
    if recipient is None:
        log.warning(
            "notification for an unknown user skipped",
            extra={"user_id": user_id, "kind": kind, "subject_key": subject_key, "version": version},
        )
        return None
    decision = decide(session, user_id, category)
    notification_id = _insert_once(
        session,
        user_id=user_id,
        kind=kind,
        category=category,
        subject_key=subject_key,
        version=version,
        title=one_line(title, 200),
        body=summary if summary is not None else text,
        link=link,
        in_app=bool(push and decision.in_app),
    )
    if notification_id is None:
        return None  # a concurrent maker of the same key got there first
    notification = session.get(Notification, notification_id)
    assert notification is not None
    if email and decision.email != "off" and recipient.email:
        held = decision.email == "daily"
        session.add(
            Email(
                notification_id=notification.id,
                user_id=user_id,
                category=category,
                to_address=recipient.email,
                subject=one_line(title, 300),
                body=text,
                html_body=html,
                ics=ics,
                status=HELD if held else rules.QUEUED,
                # after_commit enqueues it at once; the sweep only steps in if that got lost.
                lease_until=None if held else utcnow() + rules.ENQUEUE_GRACE,
            )
        )
        session.flush()
    return notification


@dataclass(frozen=True)
class Outgoing:
    """One notification of a fan-out, for `notify_many`: the same fields and meaning as `notify`'s arguments."""

    user_id: int
    kind: str
    category: str
    subject_key: str
    version: int
    title: str
    text: str
    html: str | None = None
    link: str = ""
    ics: str | None = None
    email: bool = True
    push: bool = True
    summary: str | None = None


def notify_many(session: Session, items: list[Outgoing]) -> list[int]:
    """`notify` for many people at once (a fan-out): the same keys, skips and preferences, but a handful of
    statements for the whole list instead of about six per person; returns the new notifications' ids in the
    order of `items` (call `after_commit` with them once the caller's unit of work committed)."""
    if not items:
        return []
    user_ids = sorted({item.user_id for item in items})
    made_before = {
        tuple(row)
        for row in session.execute(
            select(Notification.user_id, Notification.kind, Notification.subject_key, Notification.version).where(
                Notification.user_id.in_(user_ids),
                Notification.kind.in_({item.kind for item in items}),
                Notification.subject_key.in_({item.subject_key for item in items}),
            )
        )
    }
    recipients = {r.user_id: r for r in session.scalars(select(Recipient).where(Recipient.user_id.in_(user_ids)))}
    _preload_preferences(session, user_ids)
    fresh: list[tuple[Outgoing, Any]] = []
    seen: set[tuple[int, str, str, int]] = set()
    for item in items:
        key = (item.user_id, item.kind, item.subject_key, item.version)
        if key in made_before or key in seen:
            continue
        seen.add(key)
        if item.user_id not in recipients:
            log.warning(
                "notification for an unknown user skipped",
                extra={
                    "user_id": item.user_id,
                    "kind": item.kind,
                    "subject_key": item.subject_key,
                    "version": item.version,
                },  # fmt: skip
            )
            continue
        fresh.append((item, decide(session, item.user_id, item.category)))
    if not fresh:
        return []
    ids = _insert_many_once(
        session,
        [
            {
                "user_id": item.user_id,
                "kind": item.kind,
                "category": item.category,
                "subject_key": item.subject_key,
                "version": item.version,
                "title": one_line(item.title, 200),
                "body": item.summary if item.summary is not None else item.text,
                "link": item.link,
                "in_app": bool(item.push and decision.in_app),
            }
            for item, decision in fresh
        ],
    )
    now = utcnow()
    emails = []
    made: list[int] = []
    for item, decision in fresh:
        notification_id = ids.get((item.user_id, item.kind, item.subject_key, item.version))
        if notification_id is None:
            continue  # a concurrent maker of the same key got there first
        made.append(notification_id)
        address = recipients[item.user_id].email
        if item.email and decision.email != "off" and address:
            held = decision.email == "daily"
            emails.append(
                {
                    "notification_id": notification_id,
                    "user_id": item.user_id,
                    "category": item.category,
                    "to_address": address,
                    "subject": one_line(item.title, 300),
                    "body": item.text,
                    "html_body": item.html,
                    "ics": item.ics,
                    "status": HELD if held else rules.QUEUED,
                    "lease_until": None if held else now + rules.ENQUEUE_GRACE,
                }
            )
    if emails:
        session.execute(insert(Email), emails)
    return made


def _preload_preferences(session: Session, user_ids: list[int]) -> None:
    """Load the people's preference rows in one query, so `decide`'s per-person `session.get` finds them in the
    identity map (people without a row still cost one lookup each)."""
    rows = getattr(_policy(), "NotificationSettings", None)
    if rows is not None:
        session.scalars(select(rows).where(rows.user_id.in_(user_ids))).all()


def _insert_many_once(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[int, str, str, int], int]:
    """Multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids of the rows actually inserted, by key."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - the two databases the project runs on
        raise RuntimeError(f"unsupported database: {dialect}")
    made: dict[tuple[int, str, str, int], int] = {}
    columns = (Notification.id, Notification.user_id, Notification.kind, Notification.subject_key,
               Notification.version)  # fmt: skip
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        statement = dialect_insert(Notification).values(rows[start : start + _ROWS_PER_INSERT]).on_conflict_do_nothing()
        for row_id, user_id, kind, subject_key, version in session.execute(statement.returning(*columns)):
            made[(user_id, kind, subject_key, version)] = row_id
    return made


_ROWS_PER_INSERT = 50  # 9 columns each: well under SQLite's 32,766 bound parameters


def _insert_once(session: Session, **values: Any) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: None when the key exists. No savepoint: pysqlite would
    release the outermost one as a commit when no transaction had begun, breaking the caller's unit of work."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two databases the project runs on
        raise RuntimeError(f"unsupported database: {dialect}")
    statement = insert(Notification).values(**values).on_conflict_do_nothing().returning(Notification.id)
    return session.scalar(statement)


def after_commit(app: Flask, notification_ids: Iterable[int]) -> None:
    """Push the committed notifications live (those shown in the app) and enqueue their queued emails.

    Safe to repeat: the send task claims each email once; a lost enqueue is picked up by the sweep.
    """
    from services.notify.serialize import notification_push
    from services.notify.tasks import enqueue_sends

    ids = list(notification_ids)
    if not ids:
        return
    db = app.extensions["db"]
    with db.unit_of_work() as session:
        rows = list(session.scalars(select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)))
        pushes = [(row.user_id, notification_push(row)) for row in rows if row.in_app]
        email_ids = list(
            session.scalars(select(Email.id).where(Email.notification_id.in_(ids), Email.status == rules.QUEUED))
        )
    pusher = app.extensions["notify_pusher"]
    for user_id, payload in pushes:
        pusher.emit_to_user(user_id, "notification", payload)
    enqueue_sends(app.extensions["celery"], email_ids)
