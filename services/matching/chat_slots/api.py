"""HTTP API of author chat slots (reached through the gateway at /api/v1).

POST   /projects/{p}/chat-slots      the project's author opens a slot {starts_at, minutes} -> 201 slot
GET    /projects/{p}/chat-slots      the slots not withdrawn, with the day's timezone (`known: false` and no
                                     slots for a project not heard of yet: posters announces it a moment later)
GET    /chat-slots/{s}               one slot
DELETE /chat-slots/{s}               the author withdraws the slot (its booking is cancelled) -> 204
POST   /chat-slots/{s}/booking       -> 201 {room_id, ...} | 409 taken / overlap / past / cancelled
DELETE /chat-slots/{s}/booking       the booker or the author cancels; the waitlist's first free person gets it
POST   /chat-slots/{s}/waitlist      wait for a taken slot -> 201 {position}
DELETE /chat-slots/{s}/waitlist      -> 204
GET    /me/chat-bookings             my standing bookings, as attendee and as author; the slots I wait for
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify
from flask.blueprints import BlueprintSetupState
from pydantic import AwareDatetime, Field

from services.matching.chat_slots import domain, service
from services.matching.chat_slots.service import BookingView, Conflict, NotFound, Person, SlotView
from shared.auth import current_identity, require_identity
from shared.config import env
from shared.errors import ApiError, not_found
from shared.events import utcnow
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("chat_slots", __name__, url_prefix="/api/v1")


@bp.record_once
def _settings(state: BlueprintSetupState) -> None:
    """CHAT_SLOTS_PER_AUTHOR: create_app(config) wins, else the environment, else 12. CHAT_SLOTS_CLOCK (a test
    seam, create_app(config) only): the current time as an aware datetime."""
    config = state.app.config
    raw = config.get("CHAT_SLOTS_PER_AUTHOR", env("CHAT_SLOTS_PER_AUTHOR", str(domain.DEFAULT_PER_AUTHOR)))
    try:
        cap = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuntimeError(f"CHAT_SLOTS_PER_AUTHOR must be a whole number, not {raw!r}") from None
    if cap < 1:
        raise RuntimeError("CHAT_SLOTS_PER_AUTHOR must be at least 1")
    config["CHAT_SLOTS_PER_AUTHOR"] = cap
    config.setdefault("CHAT_SLOTS_CLOCK", utcnow)


class NewSlot(Strict):
    starts_at: AwareDatetime
    minutes: Annotated[int, Field(strict=True, ge=domain.MIN_MINUTES, le=domain.MAX_MINUTES)]


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.config["CHAT_SLOTS_CLOCK"]
    return clock()


def _me() -> Person:
    identity = current_identity()
    assert identity is not None  # require_identity ran
    return Person(identity.user_id, identity.display_name, identity.has_role("organiser"))


def _iso(value: datetime) -> str:
    return domain.utc(value).isoformat()


def _slot_json(view: SlotView, viewer: Person, timezone: str, now: datetime) -> dict[str, Any]:
    slot, booking = view.slot, view.booking
    mine = booking is not None and booking.attendee_id == viewer.id
    is_author = slot.author_id == viewer.id
    if slot.cancelled_at is not None:
        status = "cancelled"
    elif domain.utc(slot.starts_at) <= domain.utc(now):
        status = "past"
    else:
        status = "taken" if booking is not None else "free"
    body: dict[str, Any] = {
        "id": slot.id,
        "project_id": slot.project_id,
        "event_id": slot.event_id,
        "author_id": slot.author_id,
        "author_name": slot.author_name,
        "starts_at": _iso(slot.starts_at),
        "ends_at": _iso(slot.ends_at),
        "minutes": slot.minutes,
        "timezone": timezone,
        "status": status,
        "booked_by_me": mine,
        "waitlist_length": view.waiting,
        "waitlist_position": view.my_position,
    }
    if booking is not None and (mine or is_author):  # who booked, and the room, only for the two of them
        body["booking"] = {
            "attendee_id": booking.attendee_id,
            "attendee_name": booking.attendee_name,
            "room_id": booking.room_id,
            "booked_at": _iso(booking.created_at),
        }
    return body


def _booking_json(view: BookingView) -> dict[str, Any]:
    slot, booking = view.slot, view.booking
    return {
        "slot_id": slot.id,
        "room_id": booking.room_id,
        "project_id": slot.project_id,
        "project_title": view.project_title,
        "event_id": slot.event_id,
        "timezone": view.timezone,
        "starts_at": _iso(slot.starts_at),
        "ends_at": _iso(slot.ends_at),
        "minutes": slot.minutes,
        "role": "author" if view.as_author else "attendee",
        "with": (
            {"id": booking.attendee_id, "name": booking.attendee_name}
            if view.as_author
            else {"id": slot.author_id, "name": slot.author_name}
        ),
        "from_waitlist": booking.from_waitlist,
        "booked_at": _iso(booking.created_at),
    }


def _refusal(exc: Conflict | domain.SlotError) -> ApiError:
    if isinstance(exc, domain.SlotError):
        return ApiError(400, "invalid", str(exc), exc.field)
    return ApiError(exc.status, exc.code, exc.message, exc.field)


@bp.post("/projects/<int:project_id>/chat-slots")
@require_identity()
def open_slot(project_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewSlot)
    me, now = _me(), _now()
    try:
        slot = service.create_slot(
            db(), project_id, me, body.starts_at, body.minutes, now, current_app.config["CHAT_SLOTS_PER_AUTHOR"]
        )
        view, day = service.get_slot(db(), slot.id, me)
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except (Conflict, domain.SlotError) as exc:
        raise _refusal(exc) from None
    return jsonify(_slot_json(view, me, day.timezone if day else "UTC", now)), 201


@bp.get("/projects/<int:project_id>/chat-slots")
@require_identity()
def list_slots(project_id: int):  # type: ignore[no-untyped-def]
    me, now = _me(), _now()
    try:
        found = service.project_slots(db(), project_id, me)
    except service.NotYet:
        # Not known here yet (posters announces a new project a moment after creating it), or no such project:
        # no slots, and `known: false` so a client can look again shortly.
        return jsonify({"project_id": project_id, "known": False, "can_manage": False, "items": []})
    except NotFound as exc:
        raise not_found(str(exc)) from None
    timezone = found.day.timezone if found.day else "UTC"
    day = None
    if found.day is not None:
        day = {"id": found.day.id, "starts_at": _iso(found.day.starts_at), "ends_at": _iso(found.day.ends_at)}
    return jsonify(
        {
            "project_id": found.project.id,
            "known": True,
            "timezone": timezone,
            "day": day,
            "can_manage": found.project.owner_id == me.id,
            "per_author_cap": current_app.config["CHAT_SLOTS_PER_AUTHOR"],
            "minutes": {"min": domain.MIN_MINUTES, "max": domain.MAX_MINUTES, "step": 5},
            "items": [_slot_json(v, me, timezone, now) for v in found.slots],
        }
    )


@bp.get("/chat-slots/<int:slot_id>")
@require_identity()
def get_slot(slot_id: int):  # type: ignore[no-untyped-def]
    me = _me()
    try:
        view, day = service.get_slot(db(), slot_id, me)
    except NotFound as exc:
        raise not_found(str(exc)) from None
    return jsonify(_slot_json(view, me, day.timezone if day else "UTC", _now()))


@bp.delete("/chat-slots/<int:slot_id>")
@require_identity()
def withdraw_slot(slot_id: int):  # type: ignore[no-untyped-def]
    try:
        service.cancel_slot(db(), slot_id, _me(), _now())
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except Conflict as exc:
        raise _refusal(exc) from None
    return "", 204


@bp.post("/chat-slots/<int:slot_id>/booking")
@require_identity()
def book_slot(slot_id: int):  # type: ignore[no-untyped-def]
    me = _me()
    try:
        booking = service.book(db(), slot_id, me, _now())
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except Conflict as exc:
        raise _refusal(exc) from None
    return jsonify({"room_id": booking.room_id, "slot_id": slot_id, "attendee_id": me.id}), 201


@bp.delete("/chat-slots/<int:slot_id>/booking")
@require_identity()
def cancel_booking(slot_id: int):  # type: ignore[no-untyped-def]
    try:
        service.cancel_booking(db(), slot_id, _me(), _now())
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except Conflict as exc:
        raise _refusal(exc) from None
    return "", 204


@bp.post("/chat-slots/<int:slot_id>/waitlist")
@require_identity()
def join_waitlist(slot_id: int):  # type: ignore[no-untyped-def]
    try:
        position = service.join_waitlist(db(), slot_id, _me(), _now())
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except Conflict as exc:
        raise _refusal(exc) from None
    return jsonify({"slot_id": slot_id, "position": position}), 201


@bp.delete("/chat-slots/<int:slot_id>/waitlist")
@require_identity()
def leave_waitlist(slot_id: int):  # type: ignore[no-untyped-def]
    try:
        service.leave_waitlist(db(), slot_id, _me())
    except NotFound as exc:
        raise not_found(str(exc)) from None
    return "", 204


@bp.get("/me/chat-bookings")
@require_identity()
def my_bookings():  # type: ignore[no-untyped-def]
    me, now = _me(), _now()
    bookings, waiting = service.my_bookings(db(), me.id)
    return jsonify(
        {
            "items": [_booking_json(b) for b in bookings],
            "waiting": [
                {**_slot_json(view, me, timezone, now), "project_title": title} for view, title, timezone in waiting
            ],
        }
    )
