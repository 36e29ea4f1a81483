"""JSON API of the chat rooms, under /api/v1/chat-rooms (the gateway owns rooms and messages).

Every route checks the caller against the room: participants and organisers only. An unknown room and someone
else's room get the same 404, so room ids cannot be probed. Messages posted here are broadcast like socket ones.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field

from services.gateway.auth import require_caller
from services.gateway.chat import broadcast, service
from services.gateway.chat.domain import ChatRuleError
from services.gateway.chat.service import RoomNotFound
from services.gateway.domain.accounts import Account
from services.gateway.proxy import fetch_json
from shared.errors import ApiError
from shared.service_app import db
from shared.validation import Strict, int_arg, parse_json

bp = Blueprint("chat_api", __name__, url_prefix="/api/v1/chat-rooms")

ROOM_NOT_FOUND = ApiError(404, "not_found", "chat room not found")


class MessageBody(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64)]
    # The 2,000-character rule (with its own clear error) is the domain's; this only bounds the request.
    text: Annotated[str, Field(max_length=100_000)]


class ReadBody(Strict):
    last_read_id: Annotated[int, Field(ge=0)]


class ActionBody(Strict):
    text: Annotated[str, Field(min_length=1, max_length=1000)]
    owner_id: int | None = None
    due_on: date | None = None


def rule_error(exc: ChatRuleError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, exc.field)


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RoomNotFound:
        raise ROOM_NOT_FOUND from None
    except ChatRuleError as exc:
        raise rule_error(exc) from None


def check_flood(account: Account) -> None:
    verdict = current_app.extensions["chat_flood"].take(account.id)
    if not verdict.allowed:
        raise FloodError(verdict.retry_after_ms)


class FloodError(ApiError):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(429, "rate_limited", "you are sending messages too fast; wait a moment", "text")
        self.retry_after_ms = retry_after_ms


@bp.errorhandler(FloodError)
def _flood(exc: FloodError) -> tuple[Response, int]:
    response = jsonify(exc.body())
    response.headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
    return response, 429


@bp.get("")
def my_rooms():  # type: ignore[no-untyped-def]
    caller = require_caller()
    return jsonify({"items": service.my_rooms(db(), caller.account)})


@bp.get("/<room_id>")
def room(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    return jsonify(_call(service.room_details, db(), room_id, caller.account))


@bp.get("/<room_id>/messages")
def messages(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    after = _call(service.parse_after, request.args.get("after"))
    limit = int_arg("limit", service.PAGE_MAX, minimum=1, maximum=service.PAGE_MAX)
    return jsonify(_call(service.messages_after, db(), room_id, caller.account, after, limit))


@bp.post("/<room_id>/messages")
def post_message(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    body = parse_json(MessageBody)
    admit = lambda: check_flood(caller.account)  # noqa: E731 - after the access check, before any write
    posted = _call(service.post_message, db(), room_id, caller.account, body.client_id, body.text, admit)
    broadcast.message(posted.message)
    return jsonify(posted.message), 201 if posted.created else 200


@bp.post("/<room_id>/read")
def mark_read(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    body = parse_json(ReadBody)
    last = _call(service.mark_read, db(), room_id, caller.account, body.last_read_id)
    return jsonify({"room_id": room_id, "last_read_id": last})


@bp.put("/<room_id>/mutes/<int:user_id>")
def mute(room_id: str, user_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller()
    muted = _call(service.set_muted, db(), room_id, caller.account, user_id, True)
    broadcast.room_event(room_id, "muted", {"room_id": room_id, "muted": muted})
    return jsonify({"room_id": room_id, "muted": muted})


@bp.delete("/<room_id>/mutes/<int:user_id>")
def unmute(room_id: str, user_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller()
    muted = _call(service.set_muted, db(), room_id, caller.account, user_id, False)
    broadcast.room_event(room_id, "muted", {"room_id": room_id, "muted": muted})
    return jsonify({"room_id": room_id, "muted": muted})


@bp.get("/<room_id>/actions")
def actions(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    return jsonify({"items": _call(service.list_actions, db(), room_id, caller.account)})


@bp.post("/<room_id>/actions")
def note_action(room_id: str):  # type: ignore[no-untyped-def]
    caller = require_caller()
    body = parse_json(ActionBody)
    action = _call(service.note_action, db(), room_id, caller.account, body.text, body.owner_id, body.due_on)
    broadcast.room_event(room_id, "follow_up", action)
    return jsonify(action), 201


@bp.post("/<room_id>/actions/<int:action_id>/done")
def action_done(room_id: str, action_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller()
    action = _call(service.mark_action_done, db(), room_id, caller.account, action_id)
    broadcast.room_event(room_id, "follow_up", action)
    return jsonify(action)


# ---- ask me anything: /api/v1/chat-rooms/ama/<project_id> ---------------------------------------------------------
@bp.get("/ama/<int:project_id>")
def ama_status(project_id: int):  # type: ignore[no-untyped-def]
    require_caller()
    return jsonify(service.get_ama(db(), project_id))


@bp.put("/ama/<int:project_id>")
def open_ama(project_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller("author")
    project = _project(project_id, caller.account)
    return jsonify(_call(service.set_ama, db(), caller.account, project, True))


@bp.delete("/ama/<int:project_id>")
def close_ama(project_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller("author")
    project = _project(project_id, caller.account)
    return jsonify(_call(service.set_ama, db(), caller.account, project, False))


@bp.post("/ama/<int:project_id>/room")
def ama_room(project_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller()
    room_id, created = _call(service.ama_room, db(), project_id, caller.account)
    return jsonify({"room_id": room_id}), 201 if created else 200


def _project(project_id: int, account: Account) -> dict[str, Any]:
    """Posters owns projects: ask it, as the caller, who owns this one."""
    try:
        project = fetch_json("posters", f"/api/v1/projects/{project_id}", account)
    except ApiError as exc:
        if exc.status == 502 and "404" in exc.message:
            raise ApiError(404, "not_found", "project not found") from None
        raise
    if not isinstance(project, dict) or "owner_id" not in project:
        raise ApiError(502, "upstream_error", "the posters service answered without the project's owner")
    return project
