"""Socket.IO for live pushes. The Redis message queue lets any process emit to any gateway's clients:

SocketIO(message_queue=REDIS_URL).emit("notification", data, to=user_room(user_id), namespace=NAMESPACE)
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import current_user
from flask_socketio import SocketIO, join_room

from services.gateway import service
from services.gateway.domain.accounts import Account
from shared.service_app import db

NAMESPACE = "/chat"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def _socket_account(auth: Any) -> Account | None:
    """A token in the Socket.IO `auth` payload (API clients), else the browser's session cookie."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        return service.account_for_token(db(), token) if isinstance(token, str) and token else None
    if current_user.is_authenticated:
        return current_user.account
    return None


def init_socketio(app: Flask) -> SocketIO:
    socketio = SocketIO(app, message_queue=app.config["REDIS_URL"], async_mode="threading")

    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth: Any = None) -> None:
        account = _socket_account(auth)
        if account is None:
            raise ConnectionRefusedError("unauthenticated")
        join_room(user_room(account.id))

    app.extensions["socketio"] = socketio
    return socketio
