"""HTTP entrypoints of the notify service (reached through the gateway at /api/v1)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from services.notify import service
from services.notify.serialize import email_problem_json, notification_json
from services.notify.tasks import enqueue_send
from shared.auth import Identity, current_identity, require_identity
from shared.errors import ApiError, not_found
from shared.events import utcnow
from shared.service_app import db
from shared.validation import int_arg

bp = Blueprint("notify", __name__, url_prefix="/api/v1")

_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def _me() -> Identity:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    return identity


def _flag_arg(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ApiError(400, "invalid", f"{name} must be 1 or 0", name)


@bp.get("/me/notifications")
@require_identity()
def list_notifications():  # type: ignore[no-untyped-def]
    page = int_arg("page", 1)
    unread_only = _flag_arg("unread")
    result = service.list_notifications(db(), _me().user_id, page, unread_only)
    return jsonify(
        {
            "items": [notification_json(n) for n in result.items],
            "unread_count": result.unread_count,
            "page": result.page,
            "has_more": result.has_more,
        }
    )


@bp.post("/me/notifications/<int:notification_id>/read")
@require_identity()
def mark_read(notification_id: int):  # type: ignore[no-untyped-def]
    try:
        row = service.mark_read(db(), _me().user_id, notification_id)
    except service.NotFound:
        raise not_found("notification") from None
    return jsonify(notification_json(row))


@bp.post("/me/notifications/read-all")
@require_identity()
def mark_all_read():  # type: ignore[no-untyped-def]
    updated = service.mark_all_read(db(), _me().user_id)
    return jsonify({"updated": updated, "unread_count": 0})


# --- organisers: mails that failed or may not have arrived --------------------------------------------------
@bp.get("/notify/failed-emails")
@require_identity("organiser")
def failed_emails():  # type: ignore[no-untyped-def]
    page = int_arg("page", 1)
    rows, more = service.problem_emails(db(), page)
    return jsonify({"items": [email_problem_json(r) for r in rows], "page": page, "has_more": more})


@bp.post("/notify/emails/<int:email_id>/resend")
@require_identity("organiser")
def resend_email(email_id: int):  # type: ignore[no-untyped-def]
    """Only failed or uncertain mails; an uncertain one may then arrive twice (same Message-ID)."""
    try:
        row = service.resend(db(), email_id, utcnow())
    except service.NotFound:
        raise not_found("email") from None
    except service.NotResendable as exc:
        raise ApiError(
            409, "not_resendable", f"only failed or uncertain emails can be resent (this one is {exc})"
        ) from None
    enqueue_send(current_app.extensions["celery"], email_id)
    return jsonify(email_problem_json(row)), 202
