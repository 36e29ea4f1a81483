"""HTTP API of preferences (through the gateway): the person's own settings, and the unsubscribe link's target.

GET/PUT /api/v1/me/notification-settings     the signed-in person's choices
GET/POST /api/v1/unsubscribe/<token>          what the link is for / switch that category's email off; the
                                              signed token is the only credential (a mail client posts it)
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from flask import Blueprint, current_app, jsonify
from pydantic import Field

from services.notify.preferences import domain, policy, service
from shared.auth import current_identity, require_identity
from shared.errors import ApiError
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("notify_preferences", __name__, url_prefix="/api/v1")

Minutes = Annotated[int, Field(strict=True, ge=1, le=domain.MAX_OFFSET_MIN)]


class CategoryChoice(Strict):
    in_app: bool = Field(strict=True)
    email: Literal["now", "daily", "off"]


class SettingsBody(Strict):
    categories: dict[str, CategoryChoice] | None = None
    reminder_offsets_minutes: list[Minutes] | None = Field(default=None, max_length=domain.MAX_OFFSETS)
    digest_hour: int | None = Field(default=None, strict=True, ge=0, le=23)
    timezone: str | None = Field(default=None, max_length=64)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _user_id() -> int:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    return identity.user_id


@bp.get("/me/notification-settings")
@require_identity()
def get_settings():  # type: ignore[no-untyped-def]
    return jsonify(service.get_settings(db(), _user_id()))


@bp.put("/me/notification-settings")
@require_identity()
def put_settings():  # type: ignore[no-untyped-def]
    body = parse_json(SettingsBody)
    categories = None
    if body.categories is not None:
        for name, choice in body.categories.items():
            if name not in domain.CATEGORIES:
                known = ", ".join(domain.CATEGORIES)
                raise ApiError(400, "invalid", f"unknown category; one of {known}", f"categories.{name[:40]}")
            if choice.email == "daily" and name in domain.NO_DIGEST:
                raise ApiError(
                    400,
                    "invalid",
                    f"{name} are sent at once or not at all, never in the daily digest",
                    f"categories.{name}.email",
                )
        categories = {name: choice.model_dump() for name, choice in body.categories.items()}
    if body.reminder_offsets_minutes is not None and len(set(body.reminder_offsets_minutes)) != len(
        body.reminder_offsets_minutes
    ):
        raise ApiError(400, "invalid", "each reminder offset only once", "reminder_offsets_minutes")
    if body.timezone is not None and body.timezone not in _zones():
        raise ApiError(400, "invalid", "timezone must be an IANA name such as Europe/Paris", "timezone")
    changes = service.Changes(
        categories=categories,
        reminder_offsets_minutes=body.reminder_offsets_minutes,
        digest_hour=body.digest_hour,
        timezone=body.timezone,
    )
    return jsonify(service.change_settings(db(), _user_id(), changes))


def _token_owner(token: str) -> tuple[int, str]:
    found = policy.read_unsubscribe_token(current_app.config["SETTINGS"].secret_key, token)
    if found is None:
        raise ApiError(400, "invalid_token", "this unsubscribe link is not valid (altered or incomplete)", "token")
    return found


@bp.get("/unsubscribe/<token>")
def unsubscribe_info(token: str):  # type: ignore[no-untyped-def]
    user_id, category = _token_owner(token)
    return jsonify({"category": category, "email": service.current_email_mode(db(), user_id, category)})


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):  # type: ignore[no-untyped-def]
    user_id, category = _token_owner(token)
    service.unsubscribe(db(), user_id, category)
    return jsonify({"category": category, "email": "off"})
