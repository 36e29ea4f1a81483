"""HTTP API of coffee rounds (reached through the gateway at /api/v1).

POST   /events/{e}/coffee-rounds     (organiser) {slot_id} or {starts_at, minutes}, and min_cross_org_share 0..1
GET    /events/{e}/coffee-rounds     the day's rounds with my part in each (and the day's coffee slots)
GET    /coffee-rounds/{r}            the round and my pairing (organisers: the numbers of the whole round)
POST   /coffee-rounds/{r}/opt-in     -> 200 the round as I see it;  DELETE: leave it -> 204
POST   /coffee-rounds/{r}/pair       (organiser) {seed?, accept_lower_share?}: pairs everyone waiting;
                                     409 min_share_unreachable says why in words unless accept_lower_share
POST   /coffee-rounds/{r}/accept     my partner(s) suit me
POST   /coffee-rounds/{r}/decline    {rematch?: true}: someone else please (false: leave the round)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from pydantic import AwareDatetime, Field

from services.matching.coffee import domain, service
from services.matching.coffee.service import RoundView
from services.matching.directory.service import card_json
from services.matching.registration.service import Person
from services.matching.service import NotFound
from services.matching.setup.domain import Refused, utc
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, error_response, not_found
from shared.events import utcnow
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("matching_coffee", __name__, url_prefix="/api/v1")


@bp.record_once
def _settings(state: BlueprintSetupState) -> None:
    """COFFEE_CLOCK (a test seam, create_app(config) only): the current time as an aware datetime."""
    state.app.config.setdefault("COFFEE_CLOCK", utcnow)


@bp.errorhandler(Refused)
def _refused(exc: Refused):  # type: ignore[no-untyped-def]
    return error_response(ApiError(exc.status, exc.code, exc.message, exc.field))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    what = str(exc)
    return error_response(not_found("event" if what.startswith("event ") else what))


class NewRound(Strict):
    slot_id: Annotated[int, Field(strict=True, ge=1)] | None = None
    starts_at: AwareDatetime | None = None
    minutes: Annotated[int, Field(strict=True, ge=domain.MIN_MINUTES, le=domain.MAX_MINUTES)] | None = None
    min_cross_org_share: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.0


class PairBody(Strict):
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] | None = None
    accept_lower_share: Annotated[bool, Field(strict=True)] = False


class DeclineBody(Strict):
    rematch: Annotated[bool, Field(strict=True)] = True


def _optional_body(model: type[Strict]) -> Any:
    """Bodies that may be left out entirely (then the defaults); when sent, checked like any other."""
    if not request.get_data(cache=True).strip():
        return model()
    return parse_json(model)


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.config["COFFEE_CLOCK"]
    return clock()


def _me() -> tuple[Person, bool]:
    identity = current_identity()
    assert identity is not None  # require_identity ran
    person = Person(identity.user_id, identity.email, identity.display_name, identity.organisation, identity.region)
    return person, identity.has_role("organiser")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def round_json(view: RoundView) -> dict[str, Any]:
    rnd = view.round
    body: dict[str, Any] = {
        "id": rnd.id,
        "event_id": rnd.event_id,
        "slot_id": rnd.slot_id,
        "starts_at": utc(rnd.starts_at).isoformat(),
        "ends_at": utc(rnd.ends_at).isoformat(),
        "minutes": rnd.minutes,
        "timezone": view.timezone,
        "min_cross_org_share": rnd.min_cross_org_share,
        "status": rnd.status,
        "me": {
            "opted_in": view.opted_in,
            "state": view.state,
            "response": view.my_response,
            "partner_left": view.partner_left,
            "partners": [{**card_json(p.card), "response": p.response} for p in view.partners],
        },
    }
    if view.summary is not None:
        s = view.summary
        body["summary"] = {
            "opted_in": s.opted_in,
            "waiting": s.waiting,
            "groups": s.groups,
            "cross_org_groups": s.cross_org_groups,
            "cross_org_share": _share(s.cross_org_groups, s.groups),
            "min_cross_org_share": rnd.min_cross_org_share,
            "shortfall": s.shortfall,
        }
    return body


def _view(round_id: int) -> dict[str, Any]:
    me, organiser = _me()
    return round_json(service.get_round(db(), round_id, me.user_id, organiser))


@bp.post("/events/<int:event_id>/coffee-rounds")
@require_identity("organiser")
def create_round(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewRound)
    if body.slot_id is not None and (body.starts_at is not None or body.minutes is not None):
        raise ApiError(400, "invalid", "give a coffee slot or a start time and minutes, not both", "slot_id")
    if body.slot_id is None:
        for name in ("starts_at", "minutes"):
            if getattr(body, name) is None:
                raise ApiError(400, "invalid", "Field required (or give a coffee slot's slot_id)", name)
    me, _ = _me()
    row = service.create_round(
        db(),
        event_id,
        me.user_id,
        slot_id=body.slot_id,
        starts_at=body.starts_at,
        minutes=body.minutes,
        min_cross_org_share=body.min_cross_org_share,
        now=_now(),
    )
    return jsonify(_view(row.id)), 201


@bp.get("/events/<int:event_id>/coffee-rounds")
@require_identity()
def list_rounds(event_id: int):  # type: ignore[no-untyped-def]
    me, organiser = _me()
    rounds = service.day_rounds(db(), event_id, me.user_id, organiser)
    slots = service.coffee_slots(db(), event_id)
    return jsonify(
        {
            "items": [round_json(v) for v in rounds],
            "coffee_slots": [
                {"id": s.id, "starts_at": utc(s.starts_at).isoformat(), "ends_at": utc(s.ends_at).isoformat()}
                for s in slots
            ],
            "minutes": {"min": domain.MIN_MINUTES, "max": domain.MAX_MINUTES},
        }
    )


@bp.get("/coffee-rounds/<int:round_id>")
@require_identity()
def get_round(round_id: int):  # type: ignore[no-untyped-def]
    return jsonify(_view(round_id))


@bp.post("/coffee-rounds/<int:round_id>/opt-in")
@require_identity()
def opt_in(round_id: int):  # type: ignore[no-untyped-def]
    me, _ = _me()
    service.opt_in(db(), round_id, me, _now())
    return jsonify(_view(round_id))


@bp.delete("/coffee-rounds/<int:round_id>/opt-in")
@require_identity()
def opt_out(round_id: int):  # type: ignore[no-untyped-def]
    me, _ = _me()
    service.opt_out(db(), round_id, me.user_id, _now())
    return "", 204


@bp.post("/coffee-rounds/<int:round_id>/pair")
@require_identity("organiser")
def pair(round_id: int):  # type: ignore[no-untyped-def]
    body: PairBody = _optional_body(PairBody)
    outcome = service.run_pairing(db(), round_id, _now(), seed=body.seed, accept_lower_share=body.accept_lower_share)
    made = outcome.pairing
    return jsonify(
        {
            "round": _view(round_id),
            "run": {
                "groups": len(made.groups),
                "trios": sum(len(g.user_ids) == 3 for g in made.groups),
                "unpaired": len(made.unpaired),
                "cross_org_groups": made.cross_org_groups,
                "cross_org_share": made.share,
                "min_cross_org_share": made.minimum,
                "best_possible_cross_org_groups": made.best_possible,
                "new_pairs": sum(g.new for g in made.groups),
                "shortfall": made.shortfall,
            },
        }
    )


@bp.post("/coffee-rounds/<int:round_id>/accept")
@require_identity()
def accept(round_id: int):  # type: ignore[no-untyped-def]
    me, _ = _me()
    service.accept(db(), round_id, me.user_id, _now())
    return jsonify(_view(round_id))


@bp.post("/coffee-rounds/<int:round_id>/decline")
@require_identity()
def decline(round_id: int):  # type: ignore[no-untyped-def]
    body: DeclineBody = _optional_body(DeclineBody)
    me, _ = _me()
    service.decline(db(), round_id, me.user_id, _now(), rematch=body.rematch)
    return jsonify(_view(round_id))
