"""HTTP API of spin-off suggestions (reached through the gateway at /api/v1/events/{e}/spinoff-suggestions),
for organisers only."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, jsonify, request
from pydantic import Field, StrictInt

from services.matching.service import NotFound
from services.matching.setup.domain import Refused
from services.matching.spinoffs import domain, service
from services.matching.spinoffs.domain import Suggestion
from shared.auth import require_identity
from shared.errors import ApiError, error_response, not_found
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("matching_spinoffs", __name__, url_prefix="/api/v1")


@bp.errorhandler(Refused)
def _refused(exc: Refused):  # type: ignore[no-untyped-def]
    return error_response(ApiError(exc.status, exc.code, exc.message, exc.field))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return error_response(not_found(str(exc).split(" ", 1)[0]))  # "event" (a slot is a Refused on slot_id)


@bp.errorhandler(service.StaleSuggestion)
def _stale(exc: service.StaleSuggestion):  # type: ignore[no-untyped-def]
    return error_response(
        ApiError(
            409,
            "stale_suggestion",
            "this suggestion no longer matches the day's projects (they changed since it was listed): "
            "load the suggestions again",
        )
    )


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "key": suggestion.key,
        "theme": suggestion.theme,
        "theme_source": suggestion.theme_source,
        "theme_in_thesaurus": suggestion.theme_in_thesaurus,
        "breakout_exists": suggestion.breakout_exists,
        "breakouts": [{"id": b.id, "title": b.title} for b in suggestion.breakouts],
        "title": suggestion.title,
        "similarity": suggestion.similarity,
        "shared_themes": list(suggestion.shared_themes),
        "terms": list(suggestion.terms),
        "projects": [{"id": p.id, "title": p.title, "themes": list(p.themes)} for p in suggestion.projects],
    }


@bp.get("/events/<int:event_id>/spinoff-suggestions")
@require_identity("organiser")
def list_suggestions(event_id: int):  # type: ignore[no-untyped-def]
    view = service.list_suggestions(db(), event_id)
    return jsonify(
        {
            "event_id": event_id,
            "projects_considered": view.projects_considered,
            "items": [suggestion_json(s) for s in view.suggestions],
        }
    )


class FromSuggestion(Strict):
    slot_id: StrictInt
    capacity: StrictInt
    title: Annotated[str, Field(max_length=400)] | None = None
    meeting_url: Annotated[str, Field(max_length=1000)] | None = None


@bp.post("/events/<int:event_id>/spinoff-suggestions/<key>/breakout")
@require_identity("organiser")
def create_breakout(event_id: int, key: str):  # type: ignore[no-untyped-def]
    if not domain.is_key(key):
        raise not_found("suggestion")
    body = parse_json(FromSuggestion)
    force = request.args.get("force", "").lower() in ("1", "true", "yes")
    created = service.create_breakout(
        db(),
        event_id,
        key,
        slot_id=body.slot_id,
        capacity=body.capacity,
        title=body.title,
        meeting_url=body.meeting_url,
        force=force,
    )
    breakout = created.breakout
    return (
        jsonify(
            {
                "breakout_id": breakout.id,
                "event_id": event_id,
                "slot_id": breakout.slot_id,
                "title": breakout.title,
                "theme": breakout.theme,
                "capacity": breakout.capacity,
                "theme_added": created.theme_added,
                "thesaurus_revision": created.thesaurus_revision,
                "suggestion": suggestion_json(created.suggestion),
            }
        ),
        201,
    )
