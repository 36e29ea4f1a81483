"""Chat use cases: one unit of work each; events (ChatHeld, follow-up actions) go to the gateway's outbox in the
same transaction as the change. Nothing here emits to sockets: callers broadcast only after the commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.gateway.adapters.orm import Outbox, UserRow
from services.gateway.chat import domain
from services.gateway.chat.domain import ChatRuleError, Room
from services.gateway.chat.models import (
    AmaSessionRow,
    ChatMessageRow,
    ChatMuteRow,
    ChatReadMarkerRow,
    ChatRoomRow,
    FollowUpActionRow,
)
from services.gateway.domain.accounts import Account
from shared import outbox
from shared.db import Database
from shared.events import (
    ChatHeld,
    ChatSlotBooked,
    ChatSlotCancelled,
    FollowUpActionDone,
    FollowUpActionNoted,
    as_utc,
    utcnow,
)

HISTORY = 50
PAGE_MAX = 500


class RoomNotFound(LookupError):
    """Unknown room, or one the caller may not see: the same answer for both, so ids cannot be probed."""


@dataclass(frozen=True)
class Access:
    room: Room
    role: str  # "participant" | "organiser"
    ama_open: bool
    event_id: int | None
    project_id: int | None
    slot_id: int | None


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _room(row: ChatRoomRow) -> Room:
    return Room(
        id=row.id,
        kind=row.kind,
        status=row.status,
        author_id=row.author_id,
        attendee_id=row.attendee_id,
        starts_at=as_utc(row.starts_at) if row.starts_at else None,
        ends_at=as_utc(row.ends_at) if row.ends_at else None,
    )


def message_json(row: ChatMessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "room_id": row.room_id,
        "sender_id": row.sender_id,
        "client_id": row.client_id,
        "text": row.text,
        "sent_at": _iso(row.sent_at),
    }


def _ama_open(session: Session, row: ChatRoomRow) -> bool:
    if row.kind != "ama" or row.ama_project_id is None:
        return True
    ama = session.get(AmaSessionRow, row.ama_project_id)
    return bool(ama and ama.open)


def _access(session: Session, room_id: str, account: Account) -> tuple[ChatRoomRow, Access]:
    row = session.get(ChatRoomRow, room_id) if isinstance(room_id, str) and len(room_id) <= 64 else None
    if row is None:
        raise RoomNotFound(room_id)
    room = _room(row)
    role = domain.access_of(room, account.id, account.has_role("organiser"))
    if role is None:
        raise RoomNotFound(room_id)
    return row, Access(room, role, _ama_open(session, row), row.event_id, row.project_id, row.slot_id)


def authorize(db: Database, room_id: str, account: Account) -> Access:
    with db.unit_of_work() as session:
        return _access(session, room_id, account)[1]


# ---- rooms from matching's bookings --------------------------------------------------------------------------
def apply_booked(session: Session, event: ChatSlotBooked) -> None:
    """A booking opens its room. A room id is booked once and cancelled at most once: a cancellation that
    arrived first (the bus may retry out of order) wins, and an older revision changes nothing."""
    row = session.get(ChatRoomRow, event.room_id)
    if row is None:
        row = ChatRoomRow(id=event.room_id, kind="booked", status="open")
        session.add(row)
    elif row.status == "cancelled" or (row.revision is not None and (event.revision or 0) < row.revision):
        return
    row.event_id, row.slot_id, row.project_id = event.event_id, event.slot_id, event.project_id
    row.author_id, row.attendee_id = event.author_id, event.attendee_id
    row.starts_at = datetime.fromisoformat(event.starts_at)
    row.ends_at = datetime.fromisoformat(event.ends_at)
    row.revision = event.revision


def apply_cancelled(session: Session, event: ChatSlotCancelled) -> None:
    row = session.get(ChatRoomRow, event.room_id)
    if row is None:
        row = ChatRoomRow(
            id=event.room_id,
            kind="booked",
            event_id=event.event_id,
            slot_id=event.slot_id,
            project_id=event.project_id,
            author_id=event.author_id,
            attendee_id=event.attendee_id,
            starts_at=datetime.fromisoformat(event.starts_at),
            ends_at=datetime.fromisoformat(event.ends_at),
        )
        session.add(row)
    row.status = "cancelled"
    row.cancel_reason = event.reason
    row.revision = event.revision


# ---- messages -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Posted:
    message: dict[str, Any]
    created: bool  # False: the client sent this client_id before; the stored message is returned again


def _message_state() -> Select[Any]:
    """Everything a new message needs to know, in one round trip: the room (access, writability, whether it was
    held), its AMA's state, whether the sender is muted there, and the id of a copy already stored under this
    client id (a resend). Built once with bound parameters: building a statement per message costs more CPU than
    running it."""
    rooms, messages, mutes, amas = (
        ChatRoomRow.__table__.c,
        ChatMessageRow.__table__.c,
        ChatMuteRow.__table__.c,
        AmaSessionRow.__table__.c,
    )
    muted = select(mutes.user_id).where(mutes.room_id == rooms.id, mutes.user_id == bindparam("sender_id")).exists()
    stored = (
        select(messages.id)
        .where(
            messages.room_id == rooms.id,
            messages.sender_id == bindparam("sender_id"),
            messages.client_id == bindparam("client_id"),
        )
        .scalar_subquery()
    )
    return (
        select(
            rooms.kind,
            rooms.status,
            rooms.author_id,
            rooms.attendee_id,
            rooms.starts_at,
            rooms.ends_at,
            rooms.held_at,
            rooms.ama_project_id,
            amas.open.label("ama_open"),
            muted.label("muted"),
            stored.label("stored_id"),
        )
        .select_from(ChatRoomRow.__table__.outerjoin(AmaSessionRow.__table__, amas.project_id == rooms.ama_project_id))
        .where(rooms.id == bindparam("room_id"))
    )


_MESSAGE_STATE = _message_state()
_MESSAGES = ChatMessageRow.__table__
_MESSAGE_COLUMNS = tuple(_MESSAGES.c[name] for name in ("id", "room_id", "sender_id", "client_id", "text", "sent_at"))
_INSERT_MESSAGE = insert(_MESSAGES).returning(*_MESSAGE_COLUMNS)
_STORED_MESSAGE = select(*_MESSAGE_COLUMNS).where(_MESSAGES.c.id == bindparam("message_id"))


def _message_of(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "room_id": row.room_id,
        "sender_id": row.sender_id,
        "client_id": row.client_id,
        "text": row.text,
        "sent_at": _iso(row.sent_at),
    }


def post_message(
    db: Database,
    room_id: str,
    account: Account,
    client_id: object,
    text: object,
    admit: Callable[[], None] | None = None,
) -> Posted:
    """Store the message (idempotent by room + sender + client id); the caller broadcasts it after this returns.

    `admit` (the flood limit) runs once the message is known to be new and acceptable (the caller's room, open for
    writing, not muted), before anything is written: a forged room id, a resend or a refused message does not spend
    a token. The hot path is one SELECT (room, AMA, mute,
    resend), one INSERT ... RETURNING and the commit, with Core statements: no ORM objects per message."""
    client_id = domain.check_client_id(client_id)
    clean = domain.clean_text(text)
    if not isinstance(room_id, str) or len(room_id) > 64:
        raise RoomNotFound(room_id)
    try:
        with db.unit_of_work() as session:
            conn = session.connection()
            params = {"room_id": room_id, "sender_id": account.id, "client_id": client_id}
            state = conn.execute(_MESSAGE_STATE, params).one_or_none()
            if state is None:
                raise RoomNotFound(room_id)
            room = Room(
                id=room_id,
                kind=state.kind,
                status=state.status,
                author_id=state.author_id,
                attendee_id=state.attendee_id,
                starts_at=as_utc(state.starts_at) if state.starts_at else None,
                ends_at=as_utc(state.ends_at) if state.ends_at else None,
            )
            role = domain.access_of(room, account.id, account.has_role("organiser"))
            if role is None:
                raise RoomNotFound(room_id)
            if state.stored_id is not None:
                stored = conn.execute(_STORED_MESSAGE, {"message_id": state.stored_id}).one()
                return Posted(_message_of(stored), created=False)
            ama_open = state.ama_project_id is None or room.kind != "ama" or bool(state.ama_open)
            domain.check_writable(room, utcnow(), ama_open)
            if state.muted:
                raise ChatRuleError("muted", "an organiser muted you in this room", None, status=403)
            if admit is not None:
                admit()
            message = conn.execute(_INSERT_MESSAGE, {**params, "text": clean, "sent_at": utcnow()}).one()
            # Once held, a room stays held: only messages before that look at who has written.
            if role == "participant" and state.held_at is None:
                _record_held_once(session, room_id, room)
            return Posted(_message_of(message), created=True)
    except IntegrityError:
        # The same client id raced in from another connection or process: that stored copy is the answer.
        with db.unit_of_work() as session:
            existing = _by_client_id(session, room_id, account.id, client_id)
            if existing is None:
                raise
            return Posted(message_json(existing), created=False)


def _by_client_id(session: Session, room_id: str, sender_id: int, client_id: str) -> ChatMessageRow | None:
    return session.scalar(
        select(ChatMessageRow).where(
            ChatMessageRow.room_id == room_id,
            ChatMessageRow.sender_id == sender_id,
            ChatMessageRow.client_id == client_id,
        )
    )


def _record_held_once(session: Session, room_id: str, room: Room) -> None:
    senders = set(
        session.scalars(
            select(ChatMessageRow.sender_id)
            .where(ChatMessageRow.room_id == room_id, ChatMessageRow.sender_id.in_(room.participants))
            .distinct()
        )
    )
    if not domain.both_participants_wrote(room, senders):
        return
    now = utcnow()
    # Conditional update: of two processes seeing "both wrote" at once, only one changes the row.
    result = session.execute(
        update(ChatRoomRow)
        .where(ChatRoomRow.id == room_id, ChatRoomRow.held_at.is_(None))
        .values(held_at=now)
        .returning(ChatRoomRow.event_id, ChatRoomRow.slot_id, ChatRoomRow.project_id)
    ).one_or_none()
    if result is not None:
        outbox.record(
            session,
            Outbox,
            ChatHeld(
                room_id=room_id,
                event_id=result.event_id,
                slot_id=result.slot_id,
                project_id=result.project_id,
                author_id=room.author_id,
                attendee_id=room.attendee_id,
                held_at=now.isoformat(),
            ),
        )


def parse_after(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ChatRuleError("invalid", "after must be a message id (a whole number)", "after") from None
    if value < 0:
        raise ChatRuleError("invalid", "after must be a message id (a whole number)", "after")
    return value


def messages_after(db: Database, room_id: str, account: Account, after: int, limit: int = PAGE_MAX) -> dict[str, Any]:
    """Messages with a server id above `after`, oldest first. `after` must be 0 or a message of this room: an id
    from elsewhere would silently skip or repeat messages, so it is refused."""
    with db.unit_of_work() as session:
        _access(session, room_id, account)
        if after:
            known = session.scalar(
                select(ChatMessageRow.id).where(ChatMessageRow.id == after, ChatMessageRow.room_id == room_id)
            )
            if known is None:
                raise ChatRuleError("invalid", "after is not the id of a message in this room", "after")
        rows = session.scalars(
            select(ChatMessageRow)
            .where(ChatMessageRow.room_id == room_id, ChatMessageRow.id > after)
            .order_by(ChatMessageRow.id)
            .limit(limit + 1)
        ).all()
        return {"items": [message_json(r) for r in rows[:limit]], "has_more": len(rows) > limit}


def recent_messages(session: Session, room_id: str, limit: int = HISTORY) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ChatMessageRow).where(ChatMessageRow.room_id == room_id).order_by(ChatMessageRow.id.desc()).limit(limit)
    ).all()
    return [message_json(r) for r in reversed(rows)]


def mark_read(db: Database, room_id: str, account: Account, last_read_id: int) -> int:
    """Moves the caller's read marker forward (never back: an old tab must not resurrect read messages)."""
    with db.unit_of_work() as session:
        _access(session, room_id, account)
        newest = session.scalar(select(func.max(ChatMessageRow.id)).where(ChatMessageRow.room_id == room_id)) or 0
        target = min(max(0, last_read_id), newest)
        marker = session.get(ChatReadMarkerRow, (room_id, account.id))
        if marker is None:
            marker = ChatReadMarkerRow(room_id=room_id, user_id=account.id, last_read_id=0)
            session.add(marker)
        marker.last_read_id = max(marker.last_read_id or 0, target)
        return marker.last_read_id


# ---- rooms as the caller sees them ------------------------------------------------------------------------------
def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(user_ids))).all()
    return {uid: name for uid, name in rows}


def _unread(session: Session, room_id: str, user_id: int) -> int:
    marker = session.get(ChatReadMarkerRow, (room_id, user_id))
    last = marker.last_read_id if marker else 0
    return int(
        session.scalar(
            select(func.count(ChatMessageRow.id)).where(
                ChatMessageRow.room_id == room_id, ChatMessageRow.id > last, ChatMessageRow.sender_id != user_id
            )
        )
        or 0
    )


def room_json(session: Session, row: ChatRoomRow, access: Access, me: Account) -> dict[str, Any]:
    room = access.room
    now = utcnow()
    names = _names(session, set(room.participants))
    muted = sorted(session.scalars(select(ChatMuteRow.user_id).where(ChatMuteRow.room_id == row.id)))
    ama = session.get(AmaSessionRow, row.ama_project_id) if row.ama_project_id is not None else None
    closed = domain.writing_closed_reason(room, now, access.ama_open)
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "event_id": row.event_id,
        "slot_id": row.slot_id,
        "project_id": row.project_id,
        "project_title": ama.project_title if ama else None,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "seconds_left": domain.seconds_left(room, now),
        "writable": closed is None,
        "closed_reason": closed,
        "participants": [
            {"id": uid, "display_name": names.get(uid, ""), "role": "author" if uid == room.author_id else "attendee"}
            for uid in room.participants
        ],
        "muted": muted,
        "my_role": access.role,
        "me": me.id,
        "unread": _unread(session, row.id, me.id),
    }


def room_details(db: Database, room_id: str, account: Account, history: bool = False) -> dict[str, Any]:
    with db.unit_of_work() as session:
        row, access = _access(session, room_id, account)
        body = room_json(session, row, access, account)
        if history:
            body["messages"] = recent_messages(session, room_id)
        return body


def my_rooms(db: Database, account: Account) -> list[dict[str, Any]]:
    with db.unit_of_work() as session:
        rows = session.scalars(
            select(ChatRoomRow)
            .where((ChatRoomRow.author_id == account.id) | (ChatRoomRow.attendee_id == account.id))
            .order_by(ChatRoomRow.starts_at.desc().nulls_last(), ChatRoomRow.created_at.desc())
        ).all()
        items = []
        for row in rows:
            ama_open = _ama_open(session, row)
            access = Access(_room(row), "participant", ama_open, row.event_id, row.project_id, row.slot_id)
            items.append(room_json(session, row, access, account))
        return items


# ---- moderation ---------------------------------------------------------------------------------------------
def set_muted(db: Database, room_id: str, organiser: Account, user_id: int, muted: bool) -> list[int]:
    with db.unit_of_work() as session:
        _row, access = _access(session, room_id, organiser)
        if not organiser.has_role("organiser"):
            raise ChatRuleError("forbidden", "only organisers can mute someone", None, status=403)
        if user_id not in access.room.participants:
            raise ChatRuleError("invalid", "only the people in the chat can be muted", "user_id")
        current = session.get(ChatMuteRow, (room_id, user_id))
        if muted and current is None:
            session.add(ChatMuteRow(room_id=room_id, user_id=user_id, muted_by=organiser.id))
        elif not muted and current is not None:
            session.delete(current)
        session.flush()
        return sorted(session.scalars(select(ChatMuteRow.user_id).where(ChatMuteRow.room_id == room_id)))


# ---- follow-up actions --------------------------------------------------------------------------------------------
def action_json(row: FollowUpActionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "room_id": row.room_id,
        "owner_id": row.owner_id,
        "noted_by": row.noted_by,
        "text": row.text,
        "due_on": row.due_on.isoformat() if row.due_on else None,
        "noted_at": _iso(row.noted_at),
        "done_at": _iso(row.done_at),
    }


def list_actions(db: Database, room_id: str, account: Account) -> list[dict[str, Any]]:
    with db.unit_of_work() as session:
        _access(session, room_id, account)
        rows = session.scalars(
            select(FollowUpActionRow).where(FollowUpActionRow.room_id == room_id).order_by(FollowUpActionRow.id)
        ).all()
        return [action_json(r) for r in rows]


def note_action(
    db: Database, room_id: str, account: Account, text: str, owner_id: int | None, due_on: date | None
) -> dict[str, Any]:
    """Both participants may note an action for either of them; organisers moderate, they do not note actions."""
    clean = domain.clean_action_text(text)
    with db.unit_of_work() as session:
        row, access = _access(session, room_id, account)
        if access.role != "participant":
            raise ChatRuleError("forbidden", "only the people in the chat can note follow-up actions", None, 403)
        owner = domain.action_owner(access.room, account.id, owner_id)
        if access.room.status == "cancelled":
            raise ChatRuleError("cancelled", domain.CLOSED_MESSAGES["cancelled"], None, status=409)
        action = FollowUpActionRow(room_id=room_id, owner_id=owner, noted_by=account.id, text=clean, due_on=due_on)
        session.add(action)
        session.flush()
        outbox.record(
            session,
            Outbox,
            FollowUpActionNoted(
                action_id=action.id,
                room_id=room_id,
                event_id=row.event_id,
                owner_id=owner,
                other_user_id=access.room.other_participant(owner),
                text=clean,
                due_on=due_on.isoformat() if due_on else None,
                noted_at=as_utc(action.noted_at).isoformat(),
            ),
        )
        return action_json(action)


def mark_action_done(db: Database, room_id: str, account: Account, action_id: int) -> dict[str, Any]:
    with db.unit_of_work() as session:
        _access(session, room_id, account)
        action = session.get(FollowUpActionRow, action_id)
        if action is None or action.room_id != room_id:
            raise ChatRuleError("not_found", "follow-up action not found", None, status=404)
        if action.owner_id != account.id:
            raise ChatRuleError("forbidden", "only its owner can mark an action done", None, status=403)
        if action.done_at is None:
            action.done_at = utcnow()
            outbox.record(
                session,
                Outbox,
                FollowUpActionDone(action_id=action.id, owner_id=action.owner_id, done_at=action.done_at.isoformat()),
            )
        return action_json(action)


# ---- ask me anything ----------------------------------------------------------------------------------------------
def ama_json(row: AmaSessionRow | None, project_id: int) -> dict[str, Any]:
    if row is None:
        return {"project_id": project_id, "open": False, "author_id": None}
    return {
        "project_id": row.project_id,
        "open": row.open,
        "author_id": row.author_id,
        "event_id": row.event_id,
        "project_title": row.project_title,
        "opened_at": _iso(row.opened_at),
    }


def set_ama(db: Database, author: Account, project: dict[str, Any], is_open: bool) -> dict[str, Any]:
    """The project's owner opens (or closes) an AMA on it; `project` is posters' view of it, fetched by the caller."""
    if project.get("owner_id") != author.id:
        raise ChatRuleError("forbidden", "only the project's author can open an ask-me-anything on it", None, 403)
    project_id = int(project["id"])
    with db.unit_of_work() as session:
        row = session.get(AmaSessionRow, project_id)
        if row is None:
            row = AmaSessionRow(project_id=project_id, author_id=author.id)
            session.add(row)
        row.event_id = project.get("event_id")
        row.project_title = str(project.get("title") or "")[:300]
        row.open = is_open
        if is_open:
            row.opened_at = utcnow()
        session.flush()
        return ama_json(row, project_id)


def get_ama(db: Database, project_id: int) -> dict[str, Any]:
    with db.unit_of_work() as session:
        return ama_json(session.get(AmaSessionRow, project_id), project_id)


def ama_room(db: Database, project_id: int, attendee: Account) -> tuple[str, bool]:
    """The caller's own 1-1 room with the author (made on first ask); (room id, created)."""
    for _attempt in range(2):
        try:
            with db.unit_of_work() as session:
                ama = session.get(AmaSessionRow, project_id)
                if ama is None or not ama.open:
                    raise ChatRuleError("not_open", "the author has no ask-me-anything open on this project", None, 404)
                if ama.author_id == attendee.id:
                    raise ChatRuleError("invalid", "you are the author: attendees open rooms with you", None, 409)
                existing = session.scalar(
                    select(ChatRoomRow.id).where(
                        ChatRoomRow.ama_project_id == project_id, ChatRoomRow.attendee_id == attendee.id
                    )
                )
                if existing is not None:
                    return existing, False
                room_id = domain.new_ama_room_id()
                session.add(
                    ChatRoomRow(
                        id=room_id,
                        kind="ama",
                        status="open",
                        event_id=ama.event_id,
                        project_id=project_id,
                        ama_project_id=project_id,
                        author_id=ama.author_id,
                        attendee_id=attendee.id,
                    )
                )
                return room_id, True
        except IntegrityError:
            continue  # the same attendee asked twice at once: the other request made the room; read it
    raise RuntimeError("could not create the AMA room")
