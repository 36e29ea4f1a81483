"""HTTP API of the follow-up (through the gateway at /api/v1).

GET /api/v1/me/followup                      my ended days (digest, survey answered?) and my open follow-up actions
GET /api/v1/me/followup/events/<e>           my digest of that day (attendees of the day only)
GET /api/v1/followup/surveys/<e>[?token=]    the survey and my answer so far
PUT /api/v1/followup/surveys/<e>             {contacted_someone, adopted_something, blockers, token?} -> my answer
The survey takes the signed-in identity, or the signed token from the survey mail (the gateway's survey page
passes it on for someone not signed in); a tampered or expired token is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from services.notify.followup import domain, service
from services.notify.followup.models import FollowUpAction, SurveyAnswer
from services.notify.followup.tokens import read_survey_token
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, not_found
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("notify_followup", __name__, url_prefix="/api/v1")


class SurveyBody(Strict):
    contacted_someone: bool = Field(strict=True)
    adopted_something: bool = Field(strict=True)
    blockers: str = Field(default="", max_length=domain.MAX_BLOCKERS)
    token: str | None = Field(default=None, max_length=500)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _me() -> int:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    return identity.user_id


def _survey_user(event_id: int, token: str | None) -> int:
    identity = current_identity()
    if identity is not None:
        return identity.user_id
    if not token:
        raise ApiError(401, "unauthenticated", "sign in first, or open the link from the survey mail")
    found = read_survey_token(current_app.config["SETTINGS"].secret_key, token)
    if found is None or found[1] != event_id:
        raise ApiError(403, "invalid_token", "this survey link is not valid (or too old): sign in instead", "token")
    return found[0]


def _refusal(exc: Exception) -> ApiError:
    if isinstance(exc, service.NotAttendee):
        return ApiError(403, "not_attendee", str(exc))
    return not_found("survey")


def action_json(row: FollowUpAction) -> dict[str, Any]:
    return {
        "action_id": row.action_id,
        "room_id": row.room_id,
        "event_id": row.event_id,
        "text": row.text,
        "due_on": row.due_on,
        "noted_at": _iso(row.noted_at),
    }


def answer_json(row: SurveyAnswer | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "contacted_someone": row.contacted_someone,
        "adopted_something": row.adopted_something,
        "blockers": row.blockers,
        "answered_at": _iso(row.answered_at),
    }


def digest_json(digest: domain.Digest) -> dict[str, Any]:
    return {
        "event_id": digest.event_id,
        "title": digest.day_title,
        "ended_on": digest.ended_on,
        "people": [{"user_id": p.user_id, "name": p.name, "where": p.where} for p in digest.people],
        "more_people": digest.more_people,
        "projects": [
            {"project_id": p.project_id, "title": p.title, "learnings": list(p.learnings)} for p in digest.projects
        ],
        "actions": [
            {"action_id": a.action_id, "text": a.text, "mine": a.mine, "with": a.with_name, "due_on": a.due_on}
            for a in digest.actions
        ],
    }


@bp.get("/me/followup")
@require_identity()
def my_followup():  # type: ignore[no-untyped-def]
    found = service.my_followup(db(), _me())
    return jsonify(
        {
            "days": [
                {
                    "event_id": day.event_id,
                    "title": day.title,
                    "timezone": day.timezone,
                    "ended_at": _iso(day.ended_at),
                    "survey_answered": answered,
                }
                for day, answered in found.days
            ],
            "actions": [action_json(a) for a in found.actions],
        }
    )


@bp.get("/me/followup/events/<int:event_id>")
@require_identity()
def my_digest(event_id: int):  # type: ignore[no-untyped-def]
    try:
        day, digest = service.digest_for(db(), event_id, _me())
    except (service.NotFound, service.NotAttendee) as exc:
        raise not_found("follow-up of that day") from exc  # someone else's day looks like a missing one
    return jsonify({**digest_json(digest), "timezone": day.timezone, "ended_at": _iso(day.ended_at)})


@bp.get("/followup/surveys/<int:event_id>")
def get_survey(event_id: int):  # type: ignore[no-untyped-def]
    user_id = _survey_user(event_id, request.args.get("token"))
    try:
        state = service.survey_state(db(), event_id, user_id)
    except (service.NotFound, service.NotAttendee) as exc:
        raise _refusal(exc) from exc
    return jsonify(
        {
            "event_id": state.event_id,
            "title": state.title,
            "timezone": state.timezone,
            "ended_at": _iso(state.ended_at),
            "answer": answer_json(state.answer),
        }
    )


@bp.put("/followup/surveys/<int:event_id>")
def put_survey(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(SurveyBody)
    user_id = _survey_user(event_id, body.token)
    try:
        row = service.answer_survey(
            db(), event_id, user_id, body.contacted_someone, body.adopted_something, body.blockers
        )
    except (service.NotFound, service.NotAttendee) as exc:
        raise _refusal(exc) from exc
    return jsonify({"event_id": event_id, "answer": answer_json(row)})
