"""HTTP entrypoints of the matching service (reached through the gateway at /api/v1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from flask import Blueprint, jsonify
from pydantic import AwareDatetime, Field

from services.matching import service
from services.matching.adapters.orm import InsightDayRow
from services.matching.domain.insight_day import Schedule, ScheduleError
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, not_found
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("matching", __name__, url_prefix="/api/v1")

Title = Annotated[str, Field(min_length=3, max_length=200)]


class NewInsightDay(Strict):
    title: Title
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: Annotated[str, Field(min_length=1, max_length=64)]


class InsightDayEdit(Strict):
    title: Title | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def insight_day_json(row: InsightDayRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "timezone": row.timezone,
        "organiser_id": row.organiser_id,
    }


def _schedule(starts_at: datetime, ends_at: datetime, tz: str) -> Schedule:
    try:
        return Schedule.of(starts_at, ends_at, tz)
    except ScheduleError as exc:
        raise ApiError(400, "invalid", str(exc), exc.field) from None


@bp.post("/events")
@require_identity("organiser")
def create_event():  # type: ignore[no-untyped-def]
    body = parse_json(NewInsightDay)
    schedule = _schedule(body.starts_at, body.ends_at, body.timezone)
    row = service.create_insight_day(db(), current_identity().user_id, body.title, schedule)  # type: ignore[union-attr]
    return jsonify(insight_day_json(row)), 201


@bp.get("/events")
@require_identity()
def list_events():  # type: ignore[no-untyped-def]
    return jsonify({"items": [insight_day_json(r) for r in service.list_insight_days(db())]})


@bp.get("/events/<int:event_id>")
@require_identity()
def get_event(event_id: int):  # type: ignore[no-untyped-def]
    try:
        return jsonify(insight_day_json(service.get_insight_day(db(), event_id)))
    except service.NotFound:
        raise not_found("event") from None


@bp.patch("/events/<int:event_id>")
@require_identity("organiser")
def edit_event(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(InsightDayEdit)
    changes = service.InsightDayChanges(**body.model_dump())
    try:
        row = service.update_insight_day(db(), event_id, changes)
    except service.NotFound:
        raise not_found("event") from None
    except ScheduleError as exc:
        raise ApiError(400, "invalid", str(exc), exc.field) from None
    return jsonify(insight_day_json(row))
