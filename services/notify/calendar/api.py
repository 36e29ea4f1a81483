"""The private iCal feed: `GET /api/v1/me/calendar.ics` as the signed-in person, and the subscribable URL
`/calendar/<token>.ics` (served by the gateway without a session, forwarded to `GET /api/v1/calendar/<token>.ics`
here), whose secret is created and revoked by `GET|POST|DELETE /api/v1/me/calendar-token`."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from services.notify.calendar import service
from shared.auth import current_identity, require_identity
from shared.errors import ApiError
from shared.openapi import api_doc
from shared.service_app import db

log = logging.getLogger(__name__)

bp = Blueprint("notify_calendar", __name__, url_prefix="/api/v1")

FEED_PATH = "/calendar/{token}.ics"  # on the gateway (PUBLIC_URL)


def _user_id() -> int:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    return identity.user_id


def _ics(text: str) -> Response:
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="insight-days.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/me/calendar.ics")
@require_identity()
def my_calendar():  # type: ignore[no-untyped-def]
    return _ics(service.feed(db(), _user_id()))


@bp.get("/calendar/<token>.ics")
@api_doc(internal=True, summary="The feed for calendar apps; public as the gateway's /calendar/<token>.ics")
def calendar_by_token(token: str):  # type: ignore[no-untyped-def]
    text = service.feed_for_token(db(), token)
    if text is None:
        log.info("calendar token refused")
        # The same answer for tampered, revoked and malformed tokens: nothing to learn from trying.
        raise ApiError(404, "not_found", "no calendar at this address (the link may have been revoked)", "token")
    return _ics(text)


def _token_json(created_at: str | None) -> dict[str, object]:
    return {"exists": created_at is not None, "created_at": created_at}


@bp.get("/me/calendar-token")
@require_identity()
def get_calendar_token():  # type: ignore[no-untyped-def]
    return jsonify(_token_json(service.token_created_at(db(), _user_id())))


@bp.post("/me/calendar-token")
@require_identity()
def create_calendar_token():  # type: ignore[no-untyped-def]
    """A new secret URL (shown once; an earlier one stops working)."""
    user_id = _user_id()
    token = service.create_token(db(), user_id)
    public_url = current_app.config["SETTINGS"].public_url.rstrip("/")
    body = {
        **_token_json(service.token_created_at(db(), user_id)),
        "token": token,
        "url": public_url + FEED_PATH.format(token=token),
    }
    return jsonify(body), 201


@bp.delete("/me/calendar-token")
@require_identity()
def revoke_calendar_token():  # type: ignore[no-untyped-def]
    service.revoke_token(db(), _user_id())
    return "", 204
