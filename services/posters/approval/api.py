"""HTTP entrypoints of author approval (organisers of the day only):
GET/PUT /events/{e}/author-approval {required}, PUT/DELETE /events/{e}/author-approval/authors/{user_id}."""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import StrictBool

from services.posters.approval import service
from services.posters.http import register_errors, viewer
from services.posters.presenters import iso
from shared.auth import require_identity
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("posters_author_approval", __name__, url_prefix="/api/v1")
register_errors(bp)


class ApprovalSwitch(Strict):
    required: StrictBool


def _overview_json(event_id: int) -> dict[str, object]:
    found = service.overview(db(), viewer(), event_id)
    return {
        "event_id": event_id,
        "required": found.required,
        "authors": [
            {
                "user_id": a.user_id,
                "name": a.name,
                "approved": a.approved_at is not None,
                "approved_at": iso(a.approved_at),
                "held_projects": a.held_projects,
            }
            for a in found.authors
        ],
    }


@bp.get("/events/<int:event_id>/author-approval")
@require_identity("organiser")
def approval_overview(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify(_overview_json(event_id))


@bp.put("/events/<int:event_id>/author-approval")
@require_identity("organiser")
def switch_approval(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(ApprovalSwitch)
    changed = service.set_required(db(), viewer(), event_id, body.required)
    return jsonify({**_overview_json(event_id), "projects_changed": changed})


@bp.put("/events/<int:event_id>/author-approval/authors/<int:user_id>")
@require_identity("organiser")
def approve_author(event_id: int, user_id: int):  # type: ignore[no-untyped-def]
    changed = service.set_approved(db(), viewer(), event_id, user_id, True)
    return jsonify({"event_id": event_id, "user_id": user_id, "approved": True, "projects_changed": changed})


@bp.delete("/events/<int:event_id>/author-approval/authors/<int:user_id>")
@require_identity("organiser")
def unapprove_author(event_id: int, user_id: int):  # type: ignore[no-untyped-def]
    changed = service.set_approved(db(), viewer(), event_id, user_id, False)
    return jsonify({"event_id": event_id, "user_id": user_id, "approved": False, "projects_changed": changed})
