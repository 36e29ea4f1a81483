"""HTTP API of a day's set-up (reached through the gateway at /api/v1/events/{e}/...): the day's set-up markers,
thesaurus, slots and breakouts. Reading needs a signed-in caller; every change is for organisers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, jsonify, request
from pydantic import AwareDatetime, Field, StrictInt

from services.matching.service import NotFound
from services.matching.setup import service
from services.matching.setup.domain import Refused, Thesaurus, utc
from services.matching.setup.models import Breakout, DaySetup, Slot
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, error_response, not_found
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("matching_setup", __name__, url_prefix="/api/v1")

Kind = Annotated[str, Field(min_length=1, max_length=20)]  # "" passed here and tripped an assert (500)


@bp.errorhandler(Refused)
def _refused(exc: Refused):  # type: ignore[no-untyped-def]
    return error_response(ApiError(exc.status, exc.code, exc.message, exc.field))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return error_response(not_found(str(exc).split(" ", 1)[0]))  # "event", "slot" or "breakout"


def _force() -> bool:
    """?force=1: change a published day's slots or breakouts anyway (the day is then marked as needing a re-run)."""
    return request.args.get("force", "").lower() in ("1", "true", "yes")


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


def _is_organiser() -> bool:
    identity = current_identity()
    return identity is not None and identity.has_role("organiser")


# --- set-up markers -----------------------------------------------------------------------------------------
class SetupEdit(Strict):
    registration_deadline: AwareDatetime | None = None


def setup_json(event_id: int, setup: DaySetup) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "registration_deadline": _iso(setup.registration_deadline),
        "registration_open": service.registration_open(setup),
        "thesaurus_revision": setup.thesaurus_revision or 0,
        "published_at": _iso(setup.published_at),
        "needs_rerun": bool(setup.needs_rerun),
    }


@bp.get("/events/<int:event_id>/setup")
@require_identity()
def get_setup(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify(setup_json(event_id, service.get_setup(db(), event_id).setup))


@bp.patch("/events/<int:event_id>/setup")
@require_identity("organiser")
def edit_setup(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(SetupEdit)
    deadline = body.registration_deadline if "registration_deadline" in body.model_fields_set else service.UNSET
    return jsonify(setup_json(event_id, service.update_setup(db(), event_id, deadline).setup))


# --- thesaurus ---------------------------------------------------------------------------------------------
class ThesaurusBody(Strict):
    # Entries are checked one by one by the domain (plain names or {name, synonyms}), which names the bad one.
    themes: list[Any]


def thesaurus_json(event_id: int, view: service.ThesaurusView) -> dict[str, Any]:
    return {"event_id": event_id, "themes": view.thesaurus.as_json(), "revision": view.revision}


@bp.get("/events/<int:event_id>/thesaurus")
@require_identity()
def get_thesaurus(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify(thesaurus_json(event_id, service.get_thesaurus(db(), event_id)))


@bp.put("/events/<int:event_id>/thesaurus")
@require_identity("organiser")
def put_thesaurus(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(ThesaurusBody)
    thesaurus = Thesaurus.of(body.themes)
    return jsonify(thesaurus_json(event_id, service.replace_thesaurus(db(), event_id, thesaurus)))


# --- slots -------------------------------------------------------------------------------------------------
Rooms = Annotated[int, Field(strict=True, ge=1, le=1000)]
Presenter = Annotated[str, Field(max_length=200)]


class NewSlot(Strict):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    kind: Kind
    rooms: Rooms | None = None  # breakouts it can hold at once, for timetabling (None: no limit)


class SlotEdit(Strict):
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    kind: Kind | None = None
    rooms: Rooms | None = None


def slot_json(slot: Slot, breakouts: int = 0) -> dict[str, Any]:
    return {
        "id": slot.id,
        "event_id": slot.event_id,
        "starts_at": _iso(slot.starts_at),
        "ends_at": _iso(slot.ends_at),
        "kind": slot.kind,
        "rooms": slot.rooms,
        "breakout_count": breakouts,
    }


@bp.get("/events/<int:event_id>/slots")
@require_identity()
def list_slots(event_id: int):  # type: ignore[no-untyped-def]
    slots, counts = service.list_slots(db(), event_id)
    return jsonify({"items": [slot_json(s, counts.get(s.id, 0)) for s in slots]})


@bp.post("/events/<int:event_id>/slots")
@require_identity("organiser")
def create_slot(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewSlot)
    changes = service.SlotChanges(body.starts_at, body.ends_at, body.kind, body.rooms)
    return jsonify(slot_json(service.create_slot(db(), event_id, changes, force=_force()))), 201


@bp.patch("/events/<int:event_id>/slots/<int:slot_id>")
@require_identity("organiser")
def edit_slot(event_id: int, slot_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(SlotEdit)
    rooms = body.rooms if "rooms" in body.model_fields_set else service.UNSET
    changes = service.SlotChanges(body.starts_at, body.ends_at, body.kind, rooms)
    slot, breakouts = service.update_slot(db(), event_id, slot_id, changes, force=_force())
    return jsonify(slot_json(slot, breakouts))


@bp.delete("/events/<int:event_id>/slots/<int:slot_id>")
@require_identity("organiser")
def delete_slot(event_id: int, slot_id: int):  # type: ignore[no-untyped-def]
    service.delete_slot(db(), event_id, slot_id, force=_force())
    return "", 204


# --- breakouts ---------------------------------------------------------------------------------------------
class BreakoutRules(Strict):
    """Timetabling constraints of a breakout (slot and breakout ids of the same day; null clears one)."""

    not_before_slot_id: StrictInt | None = None
    not_after_slot_id: StrictInt | None = None
    same_slot_as: StrictInt | None = None
    not_same_slot_as: StrictInt | None = None
    presenter: Presenter | None = None

    def rules(self) -> dict[str, Any]:
        """Only the constraints the request names (so a PATCH leaves the others alone)."""
        return {name: getattr(self, name) for name in service.RULE_FIELDS if name in self.model_fields_set}


class NewBreakout(BreakoutRules):
    slot_id: StrictInt | None = None  # none yet: a timetable run places it
    title: Annotated[str, Field(max_length=400)]
    theme: Annotated[str, Field(max_length=400)]
    capacity: StrictInt
    meeting_url: Annotated[str, Field(max_length=1000)] | None = None


class BreakoutEdit(BreakoutRules):
    slot_id: StrictInt | None = None
    title: Annotated[str, Field(max_length=400)] | None = None
    theme: Annotated[str, Field(max_length=400)] | None = None
    capacity: StrictInt | None = None
    meeting_url: Annotated[str, Field(max_length=1000)] | None = None


def breakout_json(breakout: Breakout, slot: Slot | None = None, *, with_link: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": breakout.id,
        "event_id": breakout.event_id,
        "slot_id": breakout.slot_id,
        "title": breakout.title,
        "theme": breakout.theme,
        "capacity": breakout.capacity,
        "not_before_slot_id": breakout.not_before_slot_id,
        "not_after_slot_id": breakout.not_after_slot_id,
        "same_slot_as": breakout.same_slot_as_id,
        "not_same_slot_as": breakout.not_same_slot_as_id,
        "presenter": breakout.presenter,
    }
    if slot is not None:
        data["starts_at"], data["ends_at"] = _iso(slot.starts_at), _iso(slot.ends_at)
    if with_link:  # organisers; attendees get the link of their own breakouts with their schedule
        data["meeting_url"] = breakout.meeting_url
    return data


@bp.get("/events/<int:event_id>/breakouts")
@require_identity()
def list_breakouts(event_id: int):  # type: ignore[no-untyped-def]
    slot_id = request.args.get("slot_id", "")
    if slot_id and not slot_id.isdigit():
        raise ApiError(400, "invalid", "slot_id must be a slot's id", "slot_id")
    rows = service.list_breakouts(db(), event_id, int(slot_id) if slot_id else None)
    organiser = _is_organiser()
    return jsonify({"items": [breakout_json(b, s, with_link=organiser) for b, s in rows]})


@bp.post("/events/<int:event_id>/breakouts")
@require_identity("organiser")
def create_breakout(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewBreakout)
    changes = service.BreakoutChanges(
        body.slot_id, body.title, body.theme, body.capacity, body.meeting_url, rules=body.rules()
    )
    return jsonify(breakout_json(service.create_breakout(db(), event_id, changes, force=_force()))), 201


@bp.patch("/events/<int:event_id>/breakouts/<int:breakout_id>")
@require_identity("organiser")
def edit_breakout(event_id: int, breakout_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(BreakoutEdit)
    meeting_url = body.meeting_url if "meeting_url" in body.model_fields_set else service.UNSET
    changes = service.BreakoutChanges(body.slot_id, body.title, body.theme, body.capacity, meeting_url, body.rules())
    return jsonify(breakout_json(service.update_breakout(db(), event_id, breakout_id, changes, force=_force())))


@bp.delete("/events/<int:event_id>/breakouts/<int:breakout_id>")
@require_identity("organiser")
def delete_breakout(event_id: int, breakout_id: int):  # type: ignore[no-untyped-def]
    service.delete_breakout(db(), event_id, breakout_id, force=_force())
    return "", 204
