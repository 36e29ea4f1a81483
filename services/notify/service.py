"""Use cases of the notify service: recipients, notifications, and the life of an email row.

Consumers call the `apply_*` functions inside the inbox's unit of work; the rest open their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from services.notify.adapters.orm import Email, KnownEvent, Notification, Recipient
from services.notify.domain import messages, rules
from shared.db import Database
from shared.events import EventCreated, EventUpdated, PosterReady, PosterRejected, UserRegistered, is_newer, utcnow

log = logging.getLogger(__name__)


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Page:
    items: list[Notification]
    unread_count: int
    page: int
    has_more: bool


# --- applied from events -------------------------------------------------------------------------------
def apply_user_registered(session: Session, event: UserRegistered, source_event_id: str, public_url: str) -> None:
    """Keep our copy of the recipient, greet them in the app, and queue a welcome email."""
    session.merge(
        Recipient(
            user_id=event.user_id,
            email=event.email,
            display_name=event.display_name,
            organisation=event.organisation,
            region=event.region,
        )
    )
    message = messages.welcome(event.display_name, event.organisation, public_url)
    add_message(session, event.user_id, event.email, message, source_event_id)


def apply_poster_processed(session: Session, event: PosterReady | PosterRejected, source_event_id: str) -> None:
    """Tell the author how their upload went (in-app and live; no email for something they just did)."""
    if isinstance(event, PosterReady):
        message = messages.poster_ready(event.project_id, event.poster_id, event.page_count)
    else:
        message = messages.poster_rejected(event.project_id, event.poster_id, event.reason)
    add_message(session, event.owner_id, "", message, source_event_id)


def add_message(
    session: Session, user_id: int, to_address: str, message: messages.Message, source_event_id: str
) -> Notification:
    notification = Notification(
        user_id=user_id,
        kind=message.kind,
        title=message.title,
        body=message.body,
        link=message.link,
        source_event_id=source_event_id,
    )
    session.add(notification)
    session.flush()
    if message.email_subject and to_address:
        session.add(
            Email(
                notification_id=notification.id,
                to_address=to_address,
                subject=message.email_subject,
                body=message.email_text or message.body,
                # The consumer enqueues it right after commit; the sweep only steps in if that got lost.
                lease_until=utcnow() + rules.ENQUEUE_GRACE,
            )
        )
    return notification


def apply_event_changed(session: Session, event: EventCreated | EventUpdated) -> None:
    """Keep our copy of the insight day; an older snapshot arriving late (a retried message) is skipped."""
    row = session.get(KnownEvent, event.event_id, with_for_update=True)
    if row is None:
        row = KnownEvent(id=event.event_id, revision=0)
        session.add(row)
    elif not is_newer(event.revision, row.revision):
        return
    row.title = event.title
    row.starts_at = datetime.fromisoformat(event.starts_at).astimezone(UTC)
    row.ends_at = datetime.fromisoformat(event.ends_at).astimezone(UTC)
    row.timezone = event.timezone
    row.updated_at = utcnow()
    if event.revision is not None:
        row.revision = event.revision


def from_source(db: Database, source_event_id: str) -> tuple[list[Notification], list[int]]:
    """What an event produced, as committed: its notifications and the ids of its still-queued emails."""
    with db.unit_of_work() as session:
        notes = list(session.scalars(select(Notification).where(Notification.source_event_id == source_event_id)))
        email_ids = list(
            session.scalars(
                select(Email.id).where(Email.notification_id.in_([n.id for n in notes]), Email.status == rules.QUEUED)
            )
        )
        return notes, email_ids


# --- in-app notifications ------------------------------------------------------------------------------
def list_notifications(db: Database, user_id: int, page: int, unread_only: bool) -> Page:
    with db.unit_of_work() as session:
        # Rows with in_app off (the person switched the category off in the app) are records only.
        mine = and_(Notification.user_id == user_id, Notification.in_app.is_(True))
        unread = Notification.read_at.is_(None)
        where = and_(mine, unread) if unread_only else mine
        total = session.scalar(select(func.count()).select_from(Notification).where(where)) or 0
        unread_count = (
            total if unread_only else session.scalar(select(func.count()).select_from(Notification).where(mine, unread))
        ) or 0
        items = session.scalars(
            select(Notification)
            .where(where)
            .order_by(Notification.id.desc())
            .offset(rules.offset(page))
            .limit(rules.PAGE_SIZE)
        ).all()
        return Page(list(items), unread_count, page, rules.has_more(total, page))


def mark_read(db: Database, user_id: int, notification_id: int) -> Notification:
    with db.unit_of_work() as session:
        row = session.get(Notification, notification_id)
        # Someone else's notification looks exactly like a missing one: ids reveal nothing.
        if row is None or row.user_id != user_id:
            raise NotFound(f"notification {notification_id}")
        if row.read_at is None:
            row.read_at = utcnow()
        return row


def mark_all_read(db: Database, user_id: int) -> int:
    with db.unit_of_work() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        return result.rowcount or 0


# --- the life of an email ------------------------------------------------------------------------------
def _abandoned_after_data(now: datetime):  # type: ignore[no-untyped-def]
    """Rows whose worker died (lease run out) after DATA began: the mail may be at the server."""
    return and_(Email.status == rules.SENDING, Email.lease_until < now, Email.phase == rules.PHASE_DATA)


def _mark_abandoned_uncertain(session: Session, now: datetime, *extra: object) -> int:
    result = session.execute(
        update(Email)
        .where(_abandoned_after_data(now), *extra)
        .values(
            status=rules.UNCERTAIN,
            lease_until=None,
            last_error="the sender stopped after the mail was handed to the server: maybe delivered, not resent",
        )
    )
    return result.rowcount or 0


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        Email.status == rules.QUEUED,
        and_(
            Email.status == rules.SENDING,
            Email.lease_until < now,  # its worker died mid-send
            or_(Email.phase.is_(None), Email.phase != rules.PHASE_DATA),
        ),
    )


def claim_emails(db: Database, email_ids: list[int], now: datetime) -> list[Email]:
    """queued -> sending, phase "connecting", with a lease, each by one UPDATE ... WHERE (of two workers only one
    gets a row), all in one commit. `attempts` after the claim is the claim's token: a later step only applies
    while the row is still `sending` with that count (see `apply_steps`).

    A row left in `sending` by a dead worker is taken again only if that worker never began DATA; one left in
    phase "data" becomes `uncertain` instead (at most once in that window: see the README)."""
    claimed: list[int] = []
    with db.unit_of_work() as session:
        for email_id in email_ids:
            got = session.execute(
                update(Email)
                .where(Email.id == email_id, _claimable(now))
                .values(
                    status=rules.SENDING,
                    lease_until=now + rules.SEND_LEASE,
                    attempts=Email.attempts + 1,
                    phase=rules.PHASE_CONNECTING,
                    phase_at=now,
                )
            ).rowcount
            if got == 1:
                claimed.append(email_id)
            else:
                _mark_abandoned_uncertain(session, now, Email.id == email_id)
        if not claimed:
            return []
        rows = {e.id: e for e in session.scalars(select(Email).where(Email.id.in_(claimed)))}
        return [rows[i] for i in claimed]


def claim_email(db: Database, email_id: int, now: datetime) -> Email | None:
    claimed = claim_emails(db, [email_id], now)
    return claimed[0] if claimed else None


@dataclass(frozen=True)
class Step:
    """One change of a claimed row, applied only while the claim still holds (status sending, same attempts)."""

    email_id: int
    attempts: int
    values: dict[str, object]


def sent_step(email_id: int, attempts: int, message_id: str) -> Step:
    return Step(email_id, attempts, {"status": rules.SENT, "sent_at": utcnow(), "message_id": message_id,
                                     "lease_until": None, "last_error": None})  # fmt: skip


def failed_step(email_id: int, attempts: int, error: str) -> Step:
    return Step(email_id, attempts, {"status": rules.FAILED, "last_error": error[:2000], "lease_until": None})


def retry_step(email_id: int, attempts: int, error: str, lease_until: datetime) -> Step:
    return Step(email_id, attempts, {"status": rules.QUEUED, "last_error": error[:2000],
                                     "lease_until": lease_until, "phase": None})  # fmt: skip


def uncertain_step(email_id: int, attempts: int, error: str) -> Step:
    return Step(email_id, attempts, {"status": rules.UNCERTAIN, "last_error": error[:2000], "lease_until": None})


def data_step(email_id: int, attempts: int) -> Step:
    return Step(email_id, attempts, {"phase": rules.PHASE_DATA, "phase_at": utcnow()})


def apply_steps(db: Database, steps: list[Step]) -> list[bool]:
    """All in one commit (a batch records "mail 1 sent" and "mail 2 in DATA" together); for each step, whether
    the row was still ours."""
    with db.unit_of_work() as session:
        return [
            session.execute(
                update(Email)
                .where(Email.id == step.email_id, Email.status == rules.SENDING, Email.attempts == step.attempts)
                .values(**step.values)
            ).rowcount
            == 1
            for step in steps
        ]


def give_up(db: Database, email_id: int, error: str) -> None:
    """A mail released for a retry that will not come (its task used up its retries): failed."""
    with db.unit_of_work() as session:
        session.execute(
            update(Email)
            .where(Email.id == email_id, Email.status == rules.QUEUED)
            .values(status=rules.FAILED, last_error=error[:2000], lease_until=None)
        )


def requeue_unheld_emails(db: Database, now: datetime, limit: int = 500) -> list[int]:
    """Emails nobody holds — queued or sending with no lease or an expired one (lost enqueue, dead worker) —
    back to queued with a fresh grace lease, so the next sweep does not enqueue them again; returns their ids.

    A dead worker's row in phase "data" becomes `uncertain` instead (never resent automatically). Rows that
    already used up their attempts are marked failed, so a poison email cannot loop forever.
    """
    unheld = and_(
        Email.status.in_((rules.QUEUED, rules.SENDING)), or_(Email.lease_until.is_(None), Email.lease_until < now)
    )
    with db.unit_of_work() as session:
        uncertain = _mark_abandoned_uncertain(session, now)
        if uncertain:
            log.warning("emails marked uncertain after a sender died in DATA", extra={"count": uncertain})
        session.execute(
            update(Email)
            .where(unheld, Email.attempts >= rules.MAX_ATTEMPTS)
            .values(status=rules.FAILED, lease_until=None, last_error=func.coalesce(Email.last_error, "gave up"))
        )
        ids = list(session.scalars(select(Email.id).where(unheld).order_by(Email.id).limit(limit)))
        if ids:
            session.execute(
                update(Email)
                .where(Email.id.in_(ids), unheld)
                .values(status=rules.QUEUED, lease_until=now + rules.ENQUEUE_GRACE, phase=None)
            )
        return ids


def get_email(db: Database, email_id: int) -> Email | None:
    with db.unit_of_work() as session:
        return session.get(Email, email_id)


def recipient_names(db: Database, user_ids: list[int | None]) -> dict[int, str]:
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    with db.unit_of_work() as session:
        rows = session.execute(select(Recipient.user_id, Recipient.display_name).where(Recipient.user_id.in_(wanted)))
        return {user_id: name for user_id, name in rows}


# --- organisers: mails that did not make it --------------------------------------------------------------
def problem_emails(db: Database, page: int) -> tuple[list[Email], bool]:
    """Failed and uncertain mails, newest first."""
    with db.unit_of_work() as session:
        where = Email.status.in_(rules.PROBLEMS)
        total = session.scalar(select(func.count()).select_from(Email).where(where)) or 0
        rows = session.scalars(
            select(Email).where(where).order_by(Email.id.desc()).offset(rules.offset(page)).limit(rules.PAGE_SIZE)
        ).all()
        return list(rows), rules.has_more(total, page)


class NotResendable(ValueError):
    pass


def resend(db: Database, email_id: int, now: datetime) -> Email:
    """An organiser's decision: a failed or uncertain mail goes out again (a fresh set of tries, same
    Message-ID, so a copy that did arrive before is recognisable as the same mail)."""
    with db.unit_of_work() as session:
        row = session.get(Email, email_id, with_for_update=True)
        if row is None:
            raise NotFound(f"email {email_id}")
        if row.status not in rules.PROBLEMS:
            raise NotResendable(row.status)
        row.status = rules.QUEUED
        row.phase = None
        row.attempts = 0
        row.lease_until = now + rules.ENQUEUE_GRACE
        return row
