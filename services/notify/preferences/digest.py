"""The daily digest: a person who chose email="daily" for a category gets that category's mails held (status
`held`, made by outgoing.notify); once a day, at their chosen local hour, they go out bundled in one mail and the
originals are marked `bundled`. One bundle per person and local day (`daily_digests` key), so a repeated run, two
workers or a retried task cannot send two."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import escape
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.notify import outgoing
from services.notify.adapters.orm import Email
from services.notify.preferences import policy
from services.notify.preferences.domain import DEFAULT_DIGEST_HOUR
from services.notify.preferences.models import DailyDigest, NotificationSettings
from shared.db import Database

log = logging.getLogger(__name__)

HELD, BUNDLED = outgoing.HELD, "bundled"
KIND = "daily_digest"
CATEGORY = "digest"  # not a choosable category: the bundle itself always goes (the choice was made per category)
MAX_PER_BUNDLE = 200  # more waits for the next day's bundle rather than one enormous mail


def _local_now(now: datetime, timezone: str) -> datetime:
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now


def users_with_held_mail(db: Database) -> list[int]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(Email.user_id).where(Email.status == HELD).distinct()))


def bundle(db: Database, user_id: int, now: datetime, public_url: str, secret: str) -> int | None:
    """Bundle the person's held mails if their hour has come today and today's bundle is not made yet.

    Returns the bundle's notification id (to hand to outgoing.after_commit), or None.
    """
    with db.unit_of_work() as session:
        settings = session.get(NotificationSettings, user_id)
        hour = settings.digest_hour if settings else DEFAULT_DIGEST_HOUR
        local = _local_now(now, settings.timezone if settings else "UTC")
        if local.hour < hour:
            return None
        day = local.date().isoformat()
        if session.get(DailyDigest, (user_id, day)) is not None:
            return None  # today's went out; what was held since waits for tomorrow's
        held = list(
            session.scalars(
                select(Email)
                .where(Email.user_id == user_id, Email.status == HELD)
                .order_by(Email.id)
                .limit(MAX_PER_BUNDLE)
            )
        )
        if not held:
            return None
        digest = DailyDigest(user_id=user_id, day=day)
        try:
            with session.begin_nested():
                session.add(digest)
                session.flush()  # the key: of two runs, one gets past here
        except IntegrityError:
            return None
        title, text, html = _compose(held, day, public_url, secret, user_id)
        note = outgoing.notify(
            session,
            user_id=user_id,
            kind=KIND,
            category=CATEGORY,
            subject_key=f"daily-digest:{day}",
            version=1,
            title=title,
            text=text,
            html=html,
            link="/preferences",
            push=False,  # the held notifications are in the app already
        )
        session.execute(
            update(Email)
            .where(Email.id.in_([e.id for e in held]), Email.status == HELD)
            .values(status=BUNDLED, lease_until=None)
        )
        digest.notification_id = note.id if note is not None else None
        digest.bundled = len(held)
        log.info("daily digest made", extra={"user_id": user_id, "day": day, "bundled": len(held)})
        return digest.notification_id


def _compose(held: list[Email], day: str, public_url: str, secret: str, user_id: int) -> tuple[str, str, str]:
    count = len(held)
    title = f"Your Insight Days digest for {day}: {count} update" + ("s" if count != 1 else "")
    settings_url = public_url.rstrip("/") + "/preferences"
    text_parts = [f"{count} message(s) held for your daily digest, oldest first.", ""]
    html_parts = [f"<p>{count} message(s) held for your daily digest, oldest first.</p>"]
    for email in held:
        text_parts += ["=" * 60, email.subject, "", email.body.strip(), ""]
        html_parts.append(
            f'<h2>{escape(email.subject)}</h2><div style="white-space: pre-line">{escape(email.body.strip())}</div>'
        )
    links = []
    for category in sorted({e.category for e in held if e.category}):
        url = policy.unsubscribe_url(public_url, secret, user_id, category)
        if url:
            links.append((category, url))
    text_parts += ["=" * 60, f"Choose what you get and when: {settings_url}"]
    text_parts += [f"Stop {category} emails: {url}" for category, url in links]
    html_parts.append(f'<p><a href="{escape(settings_url)}">Choose what you get and when</a></p>')
    html_parts += [f'<p><a href="{escape(url)}">Stop {escape(category)} emails</a></p>' for category, url in links]
    return title, "\n".join(text_parts), "".join(html_parts)
