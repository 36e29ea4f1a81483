"""Use cases of the deliveries feature, run inside the inbox's unit of work: keep each person's CalendarEntry
rows in step with matching's events and tell them (in-app + mail with .ics) through `outgoing.notify`.

Each function returns the ids of the notifications it made, for `outgoing.after_commit`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify import outgoing
from services.notify.adapters.orm import KnownEvent, Notification, Recipient
from services.notify.calendar import ics
from services.notify.calendar.models import ACTIVE, BREAKOUT, CANCELLED, CHAT, COFFEE, CalendarEntry
from services.notify.deliveries import domain
from services.notify.templating import render_mail
from shared.events import (
    AssignmentsPublished,
    ChatSlotBooked,
    ChatSlotCancelled,
    CoffeeGroupChanged,
    CoffeePaired,
    utcnow,
)


@dataclass(frozen=True)
class Context:
    public_url: str
    secret: str
    organizer: str  # the address calendar invites come from (MAIL_FROM's)

    def absolute(self, path: str) -> str:
        return self.public_url.rstrip("/") + path


@dataclass(frozen=True)
class Day:
    title: str
    timezone: str


def _day(session: Session, event_id: int | None, timezone: str | None = None) -> Day:
    row = session.get(KnownEvent, event_id) if event_id is not None else None
    return Day(row.title if row else "the insight day", timezone or (row.timezone if row else "UTC"))


def _person(session: Session, user_id: int) -> Recipient | None:
    return session.get(Recipient, user_id)


def _name(session: Session, user_id: int) -> str:
    person = _person(session, user_id)
    return person.display_name if person else "someone"


def _entry(session: Session, user_id: int, kind: str, subject_id: str) -> CalendarEntry | None:
    return session.scalar(
        select(CalendarEntry)
        .where(CalendarEntry.user_id == user_id, CalendarEntry.kind == kind, CalendarEntry.subject_id == subject_id)
        .with_for_update()
    )


def _item(entry: CalendarEntry) -> ics.Item:
    return ics.Item(
        kind=entry.kind,
        subject_id=entry.subject_id,
        title=entry.title,
        description=entry.description,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        timezone=entry.timezone,
        join_url=entry.join_url,
        status=entry.status,
        sequence=entry.sequence,
    )


def _common(ctx: Context, user_id: int, category: str, subject: str) -> dict[str, Any]:
    return {
        "public_url": ctx.public_url,
        "unsubscribe_url": outgoing.unsubscribe_url(ctx.public_url, ctx.secret, user_id, category),
        "category": category,
        "subject": subject,
    }


def _ids(notes: Iterable[Notification | None]) -> list[int]:
    return [n.id for n in notes if n is not None]


# --- chats ---------------------------------------------------------------------------------------------
def _tell_about_chat(
    session: Session, ctx: Context, entry: CalendarEntry, change: str, other: str, reason: str = ""
) -> Notification | None:
    person = _person(session, entry.user_id)
    when = domain.when(entry.starts_at, entry.ends_at, entry.timezone)
    title = {
        domain.BOOKED: f"Chat with {other} booked",
        domain.MOVED: f"Chat with {other} moved",
        domain.CANCELLED: f"Chat with {other} cancelled",
    }[change]
    text, html = render_mail(
        "chat",
        name=person.display_name if person else "",
        other=other,
        change=change,
        when=when,
        reason=reason,
        join_url=entry.join_url,
        **_common(ctx, entry.user_id, domain.CATEGORY_BOOKINGS, title),
    )
    invite = ics.invite(_item(entry), organizer=ctx.organizer, attendee=person.email if person else "", now=utcnow())
    return outgoing.notify(
        session,
        user_id=entry.user_id,
        kind=domain.KIND_CHAT[change],
        category=domain.CATEGORY_BOOKINGS,
        subject_key=f"chat:{entry.subject_id}",
        version=entry.sequence,
        title=title,
        text=text,
        html=html,
        link=f"/chats/{entry.subject_id}",
        ics=invite,
        summary=when + (f" ({reason})" if reason else ""),
    )


def apply_chat_booked(session: Session, event: ChatSlotBooked, ctx: Context) -> list[int]:
    """Booked (first time this room is seen) or moved (same room, new times, newer revision): both people."""
    day = _day(session, event.event_id)
    starts_at, ends_at = domain.parse_utc(event.starts_at), domain.parse_utc(event.ends_at)
    revision = event.revision or 0
    made: list[Notification | None] = []
    for user_id, other_id in ((event.attendee_id, event.author_id), (event.author_id, event.attendee_id)):
        entry = _entry(session, user_id, CHAT, event.room_id)
        if entry is not None and event.revision is not None and entry.source_revision >= revision:
            continue  # a redelivered or older copy
        change = domain.chat_change(
            (entry.status, entry.starts_at, entry.ends_at) if entry else None, starts_at, ends_at
        )
        if change is None:
            continue
        other = _name(session, other_id)
        if entry is None:
            entry = CalendarEntry(user_id=user_id, kind=CHAT, subject_id=event.room_id, sequence=0)
            session.add(entry)
        else:
            entry.sequence += 1
        entry.event_id = event.event_id
        entry.title = f"1-1 chat with {other}"
        entry.description = f"A 1-1 chat at {day.title}. Chat room: {ctx.absolute(f'/chats/{event.room_id}')}"
        entry.starts_at, entry.ends_at, entry.timezone = starts_at, ends_at, day.timezone
        entry.join_url = ctx.absolute(f"/chats/{event.room_id}")
        entry.status = ACTIVE
        entry.source_revision = revision
        entry.with_user_ids = str(other_id)
        entry.updated_at = utcnow()
        session.flush()
        made.append(_tell_about_chat(session, ctx, entry, change, other))
    return _ids(made)


def apply_chat_cancelled(session: Session, event: ChatSlotCancelled, ctx: Context) -> list[int]:
    day = _day(session, event.event_id)
    revision = event.revision or 0
    reason = domain.CANCEL_REASONS.get(event.reason, "")
    made: list[Notification | None] = []
    for user_id, other_id in ((event.attendee_id, event.author_id), (event.author_id, event.attendee_id)):
        entry = _entry(session, user_id, CHAT, event.room_id)
        if entry is None:
            # Never saw the booking: keep the cancellation, so a late copy of the booking changes nothing.
            session.add(
                CalendarEntry(
                    user_id=user_id,
                    kind=CHAT,
                    subject_id=event.room_id,
                    event_id=event.event_id or 0,
                    title=f"1-1 chat with {_name(session, other_id)}",
                    starts_at=domain.parse_utc(event.starts_at),
                    ends_at=domain.parse_utc(event.ends_at),
                    timezone=day.timezone,
                    status=CANCELLED,
                    source_revision=revision,
                    with_user_ids=str(other_id),
                )
            )
            continue
        if entry.status == CANCELLED:
            continue  # redelivered
        entry.status = CANCELLED
        entry.sequence += 1
        entry.source_revision = max(entry.source_revision, revision)
        entry.updated_at = utcnow()
        session.flush()
        made.append(_tell_about_chat(session, ctx, entry, domain.CANCELLED, _name(session, other_id), reason))
    return _ids(made)


# --- the published schedule ----------------------------------------------------------------------------
def apply_assignments_published(session: Session, event: AssignmentsPublished, ctx: Context) -> list[int]:
    """The person's breakouts of the day become exactly those of this publication (a later one replaces an
    earlier one; breakouts no longer theirs are cancelled), then one notification with all of them."""
    day = _day(session, event.event_id, event.timezone)
    revision = domain.publication_revision(event.published_at)
    existing = {
        e.subject_id: e
        for e in session.scalars(
            select(CalendarEntry)
            .where(
                CalendarEntry.user_id == event.user_id,
                CalendarEntry.kind == BREAKOUT,
                CalendarEntry.event_id == event.event_id,
            )
            .with_for_update()
        )
    }
    if any(e.source_revision >= revision for e in existing.values()):
        return []  # this publication or a later one is already applied
    republished = any(e.status == ACTIVE for e in existing.values())
    if not event.breakouts and not republished:
        return []  # left out of a publication with nothing of theirs to withdraw: nothing to say
    withdrawn = not event.breakouts  # left out of a re-publication: every breakout of theirs is cancelled
    listed: list[dict[str, Any]] = []
    for b in event.breakouts:
        subject_id = str(b["breakout_id"])
        starts_at, ends_at = domain.parse_utc(str(b["starts_at"])), domain.parse_utc(str(b["ends_at"]))
        title = str(b.get("title") or "Breakout")
        join_url = str(b.get("meeting_url") or "")
        reason = str(b.get("reason") or "")
        description = f"Theme: {b.get('theme') or '-'}. " + (f"Why you are here: {reason}" if reason else "")
        entry = existing.pop(subject_id, None)
        if entry is None:
            entry = CalendarEntry(user_id=event.user_id, kind=BREAKOUT, subject_id=subject_id, sequence=0)
            session.add(entry)
        elif (
            entry.status != ACTIVE
            or (domain.as_utc(entry.starts_at), domain.as_utc(entry.ends_at)) != (starts_at, ends_at)
            or (entry.title, entry.join_url, entry.description) != (title, join_url, description)
        ):
            entry.sequence += 1
        entry.event_id = event.event_id
        entry.title, entry.description, entry.join_url = title, description, join_url
        entry.starts_at, entry.ends_at, entry.timezone = starts_at, ends_at, day.timezone
        entry.status, entry.source_revision, entry.updated_at = ACTIVE, revision, utcnow()
        listed.append(
            {
                "title": title,
                "theme": str(b.get("theme") or ""),
                "when": domain.when(starts_at, ends_at, day.timezone),
                "reason": reason,
                "join_url": join_url,
            }
        )
    for gone in existing.values():  # not theirs any more
        if gone.status == ACTIVE:
            gone.status = CANCELLED
            gone.sequence += 1
        gone.source_revision, gone.updated_at = revision, utcnow()
    session.flush()
    entries = session.scalars(
        select(CalendarEntry)
        .where(
            CalendarEntry.user_id == event.user_id,
            CalendarEntry.kind == BREAKOUT,
            CalendarEntry.event_id == event.event_id,
        )
        .order_by(CalendarEntry.starts_at)
    ).all()
    person = _person(session, event.user_id)
    title = f"Your breakouts for {day.title}" + (" were withdrawn" if withdrawn else "")
    text, html = render_mail(
        "schedule",
        name=person.display_name if person else "",
        day=day.title,
        breakouts=listed,
        republished=republished,
        withdrawn=withdrawn,
        schedule_url=ctx.absolute(f"/events/{event.event_id}/my-schedule"),
        **_common(ctx, event.user_id, domain.CATEGORY_SCHEDULE, title),
    )
    summary = "; ".join(f"{b['title']}: {b['when']}" for b in listed) or (
        "Your breakouts were withdrawn: the new schedule has none for you." if withdrawn else "No breakout for you now."
    )
    note = outgoing.notify(
        session,
        user_id=event.user_id,
        kind=domain.KIND_SCHEDULE_WITHDRAWN if withdrawn else domain.KIND_SCHEDULE,
        category=domain.CATEGORY_SCHEDULE,
        subject_key=f"schedule:{event.event_id}",
        version=event.run_id,
        title=title,
        text=text,
        html=html,
        link=f"/events/{event.event_id}/my-schedule",
        ics=ics.published([_item(e) for e in entries], now=utcnow(), name=title),
        summary=summary,
    )
    return _ids([note])


# --- coffee --------------------------------------------------------------------------------------------
def apply_coffee_paired(session: Session, event: CoffeePaired, ctx: Context) -> list[int]:
    day = _day(session, event.event_id)
    answer_path = f"/events/{event.event_id}/coffee#round-{event.round_id}"
    made: list[Notification | None] = []
    for group in event.groups:
        subject_id = str(group["group_id"])
        user_ids = [int(u) for u in group["user_ids"]]
        starts_at, ends_at = domain.parse_utc(str(group["starts_at"])), domain.parse_utc(str(group["ends_at"]))
        for user_id in user_ids:
            if _entry(session, user_id, COFFEE, subject_id) is not None:
                continue  # redelivered
            others = [u for u in user_ids if u != user_id]
            partners = domain.names([_name(session, u) for u in others])
            entry = CalendarEntry(
                user_id=user_id,
                kind=COFFEE,
                subject_id=subject_id,
                event_id=event.event_id,
                title=f"Coffee with {partners}",
                description=f"A coffee pairing at {day.title}. Accept or ask for someone else: "
                + ctx.absolute(answer_path),
                starts_at=starts_at,
                ends_at=ends_at,
                timezone=day.timezone,
                join_url=ctx.absolute(answer_path),
                status=ACTIVE,
                sequence=0,
                with_user_ids=",".join(str(u) for u in others),
            )
            session.add(entry)
            session.flush()
            person = _person(session, user_id)
            when = domain.when(starts_at, ends_at, day.timezone)
            title = f"Coffee with {partners}"
            text, html = render_mail(
                "coffee",
                name=person.display_name if person else "",
                day=day.title,
                partners=partners,
                when=when,
                answer_url=ctx.absolute(answer_path),
                **_common(ctx, user_id, domain.CATEGORY_SCHEDULE, title),
            )
            invite = ics.invite(
                _item(entry), organizer=ctx.organizer, attendee=person.email if person else "", now=utcnow()
            )
            made.append(
                outgoing.notify(
                    session,
                    user_id=user_id,
                    kind=domain.KIND_COFFEE,
                    category=domain.CATEGORY_SCHEDULE,
                    subject_key=f"coffee:{subject_id}",
                    version=0,
                    title=title,
                    text=text,
                    html=html,
                    link=answer_path,
                    ics=invite,
                    summary=f"{when}. Accept or ask for someone else on the Coffee page.",
                )
            )
    return _ids(made)


def apply_coffee_group_changed(session: Session, event: CoffeeGroupChanged, ctx: Context) -> list[int]:
    """People who left a coffee group (declined, opted out, or freed when it dissolved): their entry is cancelled
    (SEQUENCE+1, a METHOD:CANCEL invite, in-app), so the feed drops it and its reminders turn void. Those still
    in a trio gone down to a pair keep theirs, with the partner list updated."""
    day = _day(session, event.event_id)
    subject_id = str(event.group_id)
    answer_path = f"/events/{event.event_id}/coffee#round-{event.round_id}"
    made: list[Notification | None] = []
    for user_id in event.user_ids:
        entry = _entry(session, user_id, COFFEE, subject_id)
        if entry is None:
            # Never saw the pairing: keep the cancellation, so a late copy of CoffeePaired changes nothing.
            session.add(
                CalendarEntry(
                    user_id=user_id,
                    kind=COFFEE,
                    subject_id=subject_id,
                    event_id=event.event_id,
                    title="Coffee",
                    starts_at=domain.parse_utc(event.starts_at),
                    ends_at=domain.parse_utc(event.ends_at),
                    timezone=day.timezone,
                    status=CANCELLED,
                )
            )
            continue
        if entry.status == CANCELLED:
            continue  # redelivered
        entry.status = CANCELLED
        entry.sequence += 1
        entry.updated_at = utcnow()
        session.flush()
        made.append(_tell_coffee_cancelled(session, ctx, entry, event, day, answer_path))
    for user_id in event.remaining_user_ids:
        entry = _entry(session, user_id, COFFEE, subject_id)
        if entry is None or entry.status == CANCELLED:
            continue
        still = [u for u in entry.with_users() if u not in event.user_ids]
        if still == entry.with_users():
            continue  # redelivered
        entry.with_user_ids = ",".join(str(u) for u in still)  # "people met" must not count who left
        entry.title = f"Coffee with {domain.names([_name(session, u) for u in still])}"
        entry.sequence += 1
        entry.updated_at = utcnow()
    session.flush()
    return _ids(made)


def _tell_coffee_cancelled(
    session: Session, ctx: Context, entry: CalendarEntry, event: CoffeeGroupChanged, day: Day, answer_path: str
) -> Notification | None:
    person = _person(session, entry.user_id)
    others = [u for u in entry.with_users() if u != entry.user_id]
    partners = domain.names([_name(session, u) for u in others])
    mine = entry.user_id == event.by_user_id
    when = domain.when(entry.starts_at, entry.ends_at, entry.timezone)
    title = f"Coffee with {partners} cancelled"
    text, html = render_mail(
        "coffee_cancelled",
        name=person.display_name if person else "",
        day=day.title,
        partners=partners,
        who_left=_name(session, event.by_user_id),
        mine=mine,
        # The decliner who asked for someone else, and a partner freed by it, wait for a rematch.
        waiting=not mine or event.reason == "declined",
        when=when,
        answer_url=ctx.absolute(answer_path),
        **_common(ctx, entry.user_id, domain.CATEGORY_SCHEDULE, title),
    )
    invite = ics.invite(_item(entry), organizer=ctx.organizer, attendee=person.email if person else "", now=utcnow())
    return outgoing.notify(
        session,
        user_id=entry.user_id,
        kind=domain.KIND_COFFEE_CANCELLED,
        category=domain.CATEGORY_SCHEDULE,
        subject_key=f"coffee:{entry.subject_id}",
        version=entry.sequence,
        title=title,
        text=text,
        html=html,
        link=answer_path,
        ics=invite,
        summary=f"{when}: taken off your calendar.",
    )
