"""Socket.IO events of the chat rooms (namespace /chat): join, leave, message, resume, typing.

Every event re-reads the caller's account from the credential the socket connected with (a token row: revoked,
expired or with changed roles is seen at once), then checks the room as the HTTP routes do. Answers come back as
the event's acknowledgement: {"ok": true, ...} or {"error": {"code", "message", "field"}}.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO, disconnect, join_room, leave_room
from pydantic import ValidationError

from services.gateway.chat import broadcast, presence, service
from services.gateway.chat.api import FloodError, check_flood
from services.gateway.chat.domain import ChatRuleError
from services.gateway.chat.service import RoomNotFound
from services.gateway.domain.accounts import Account
from shared.errors import ApiError, from_validation_error
from shared.resilience import LoopHealth, is_transient, run_resilient
from shared.service_app import db, redis_client

log = logging.getLogger(__name__)

NAMESPACE = broadcast.NAMESPACE
Ack = dict[str, Any]

# Rooms each socket of this process has joined, for presence clean-up when it goes away.
_joined: dict[str, set[str]] = {}
_keeper: dict[str, Any] = {}
_keeper_lock = threading.Lock()
PRESENCE_REFRESH_S = presence.ENTRY_TTL_S / 4


def _keep_presence_alive(socketio: SocketIO, client: Any) -> None:
    """Once per process: refresh the presence entries of this process's joined sockets, so they outlive their TTL
    while connected and fade out only when the process is gone. Survives every error (logs, backs off)."""
    with _keeper_lock:
        if _keeper:
            return
        _keeper["started"] = True
    health = LoopHealth("chat-presence")

    def step() -> float:
        presence.refresh_many(client, list(_joined))
        return PRESENCE_REFRESH_S

    _keeper["task"] = socketio.start_background_task(
        run_resilient, step, health, lambda: False, sleep=socketio.sleep
    )


def _error(code: str, message: str, field: str | None = None) -> Ack:
    return {"error": {"code": code, "message": message, "field": field}}


def _room_id(data: Any) -> str:
    room_id = data.get("room_id") if isinstance(data, dict) else None
    if not isinstance(room_id, str) or not room_id or len(room_id) > 64:
        raise ChatRuleError("invalid", "room_id is required", "room_id")
    return room_id


def guarded(account_of_socket: Callable[[], Account | None]) -> Callable[[Callable[..., Ack]], Callable[..., Ack]]:
    """Wraps a handler: resolves the caller for this very event and turns every failure into an error ack."""

    def wrap(handler: Callable[..., Ack]) -> Callable[..., Ack]:
        def run(data: Any = None) -> Ack:
            try:
                account = account_of_socket()
                if account is None:
                    disconnect()
                    return _error("unauthenticated", "sign in again")
                return handler(account, data)
            except RoomNotFound:
                return _error("not_found", "chat room not found")
            except ChatRuleError as exc:
                return _error(exc.code, exc.message, exc.field)
            except ValidationError as exc:
                return from_validation_error(exc).body()
            except ApiError as exc:
                return exc.body()
            except Exception as exc:  # noqa: BLE001 - a socket handler must answer, never crash the connection
                if is_transient(exc):
                    return _error("unavailable", "the chat is briefly unavailable; nothing was saved, try again")
                log.exception("chat socket handler failed", extra={"handler": handler.__name__})
                return _error("server_error", "internal error")

        run.__name__ = handler.__name__
        return run

    return wrap


def register(socketio: SocketIO, account_of_socket: Callable[[], Account | None]) -> None:
    on = guarded(account_of_socket)

    def _presence(room_id: str) -> None:
        users = presence.present(redis_client(), room_id)
        broadcast.room_event(room_id, "presence", {"room_id": room_id, "users": users})

    @socketio.on("join", namespace=NAMESPACE)
    @on
    def join(account: Account, data: Any) -> Ack:
        room_id = _room_id(data)
        details = service.room_details(db(), room_id, account, history=True)
        if details["status"] == "cancelled":
            return _error("cancelled", "this chat was cancelled")
        join_room(broadcast.room_key(room_id))
        _joined.setdefault(request.sid, set()).add(room_id)  # type: ignore[attr-defined]
        presence.enter(redis_client(), room_id, request.sid, account.id)  # type: ignore[attr-defined]
        _keep_presence_alive(socketio, redis_client())
        _presence(room_id)
        details["present"] = presence.present(redis_client(), room_id)
        return {"ok": True, "room": details}

    @socketio.on("leave", namespace=NAMESPACE)
    @on
    def leave(account: Account, data: Any) -> Ack:
        room_id = _room_id(data)
        leave_room(broadcast.room_key(room_id))
        _joined.get(request.sid, set()).discard(room_id)  # type: ignore[attr-defined]
        presence.leave(redis_client(), room_id, request.sid)  # type: ignore[attr-defined]
        _presence(room_id)
        return {"ok": True}

    @socketio.on("message", namespace=NAMESPACE)
    @on
    def message(account: Account, data: Any) -> Ack:
        room_id = _room_id(data)
        # The API contract's `message {room_id, text}` has no client id: such a message gets a server-made one
        # (no idempotency for that client); pages and scripts that resend always send their own.
        client_id = data.get("client_id") if "client_id" in data else f"srv-{uuid.uuid4().hex}"
        try:
            posted = service.post_message(
                db(), room_id, account, client_id, data.get("text"), admit=lambda: check_flood(account)
            )
        except FloodError as exc:
            ack = exc.body()
            ack["retry_after_ms"] = exc.retry_after_ms
            return ack
        # Persisted first, then broadcast; a repeat of a known client id is broadcast again (clients dedupe by
        # id) in case the first broadcast was lost with a process that died right after its commit.
        broadcast.message(posted.message)
        return {"ok": True, "message": posted.message, "created": posted.created}

    @socketio.on("resume", namespace=NAMESPACE)
    @on
    def resume(account: Account, data: Any) -> Ack:
        room_id = _room_id(data)
        raw = data.get("after")
        after = service.parse_after(None if raw is None else str(raw))
        page = service.messages_after(db(), room_id, account, after)
        presence.refresh(redis_client(), request.sid)  # type: ignore[attr-defined]
        return {"ok": True, **page}

    @socketio.on("typing", namespace=NAMESPACE)
    @on
    def typing(account: Account, data: Any) -> Ack:
        room_id = _room_id(data)
        access = service.authorize(db(), room_id, account)
        if access.room.status == "cancelled":
            return _error("cancelled", "this chat was cancelled")
        payload = {"room_id": room_id, "user_id": account.id, "display_name": account.display_name}
        broadcast.room_event(room_id, "typing", payload, skip_sid=request.sid)  # type: ignore[attr-defined]
        return {"ok": True}


def forget(sid: str) -> None:
    """The socket went away: drop it from the presence of the rooms it had joined and tell those rooms."""
    rooms = sorted(_joined.pop(sid, set()))
    try:
        presence.forget_socket(redis_client(), rooms, sid)
        for room_id in rooms:
            users = presence.present(redis_client(), room_id)
            broadcast.room_event(room_id, "presence", {"room_id": room_id, "users": users})
    except Exception:  # noqa: BLE001 - presence is best effort; stale entries expire with their TTL
        log.warning("presence clean-up failed", exc_info=True)
