"""Socket.IO for live pushes and the chat rooms. The Redis message queue lets any process emit to any gateway's
clients:

SocketIO(message_queue=REDIS_URL).emit("notification", data, to=user_room(user_id), namespace=NAMESPACE)

Async mode: threading (production: gunicorn gthread with a thread per websocket, see the README's "Chat rooms" for
the measurements against gevent); gevent only when the server monkey-patched the process (gunicorn `-k gevent`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_login import current_user
from flask_socketio import SocketIO, join_room

from services.gateway import service
from services.gateway.chat import sockets as chat_sockets
from services.gateway.chat import video as chat_video
from services.gateway.chat.flood import FloodLimit
from services.gateway.chat.socket_accounts import SocketAccounts
from services.gateway.domain.accounts import Account
from services.gateway.socket_sessions import remember_socket
from shared.config import env
from shared.service_app import db, redis_client

NAMESPACE = "/chat"

# The credential each socket of this process connected with (a token; a browser session also points at one).
# Events look the account up again from it, so a revoked token or a changed role counts from the next event on.
_credentials: dict[str, str] = {}
_accounts = SocketAccounts()


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def async_mode() -> str:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return "threading"
    return "gevent" if monkey.is_module_patched("socket") else "threading"


def _socket_credential(auth: Any) -> str | None:
    """A token in the Socket.IO `auth` payload (API clients), else the browser's session cookie's token."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        return service.token_digest(token) if isinstance(token, str) and token else None
    if current_user.is_authenticated:
        return str(current_user.token_hash)  # the session cookie carries only the token's hash
    return None


def socket_account() -> Account | None:
    """The caller of the current Socket.IO event: cached per socket for a few seconds, and refused as soon as a
    logout or role change has ended the socket (see chat/socket_accounts.py)."""
    sid = request.sid  # type: ignore[attr-defined]
    token = _credentials.get(sid)
    if not token:
        return None
    return _accounts.account(
        sid, NAMESPACE, token, redis_client(), lambda token_hash: service.account_for_token_hash(db(), token_hash)
    )


def init_socketio(app: Flask) -> SocketIO:
    mode = app.config.get("SOCKETIO_ASYNC_MODE") or async_mode()
    socketio = SocketIO(app, message_queue=app.config["REDIS_URL"], async_mode=mode)
    app.extensions["chat_flood"] = FloodLimit(
        app.extensions["redis"],
        burst=int(app.config.get("CHAT_FLOOD_BURST") or env("CHAT_FLOOD_BURST", "10")),
        per_second=float(app.config.get("CHAT_FLOOD_PER_S") or env("CHAT_FLOOD_PER_S", "2")),
        enabled=bool(app.config["RATE_LIMITS"]),
    )

    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth: Any = None) -> None:
        token = _socket_credential(auth)
        account = service.account_for_token_hash(db(), token) if token else None
        if token is None or account is None:
            raise ConnectionRefusedError("unauthenticated")
        _credentials[request.sid] = token  # type: ignore[attr-defined]
        join_room(user_room(account.id))
        remember_socket(account.id, request.sid, NAMESPACE, token)  # type: ignore[attr-defined]  # logout ends it

    chat_sockets.register(socketio, socket_account)
    chat_video.register(app, socketio, socket_account)  # WebRTC signalling of booked rooms

    @socketio.on("disconnect", namespace=NAMESPACE)
    def _disconnect(*_args: Any) -> None:
        _credentials.pop(request.sid, None)  # type: ignore[attr-defined]
        _accounts.forget(request.sid)  # type: ignore[attr-defined]
        chat_sockets.forget(request.sid)  # type: ignore[attr-defined]

    app.extensions["socketio"] = socketio
    return socketio
