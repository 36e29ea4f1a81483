"""Which Socket.IO connections belong to which account and credential, so logout and a role change can end them.

Each connect is recorded in Redis (`sid -> token hash` per user, so every gateway process sees it); ending one calls
`socketio.server.disconnect(sid, namespace)`, which the Redis message queue hands to the process that holds the
socket. A record for a socket that is already gone costs nothing: the disconnect of an unknown sid is ignored.
"""

from __future__ import annotations

import logging

from flask import current_app

from shared.service_app import redis_client

log = logging.getLogger(__name__)

KEY = "gateway:sockets:user:{user_id}"
KEEP_S = 15 * 24 * 3600  # longer than a session lives; refreshed on every connect


def remember_socket(user_id: int, sid: str, namespace: str, token_hash: str) -> None:
    """Record a connection and the hash of the token (bearer or the session's) it was opened with."""
    key = KEY.format(user_id=user_id)
    pipe = redis_client().pipeline()
    pipe.hset(key, f"{namespace} {sid}", token_hash)
    pipe.expire(key, KEEP_S)
    pipe.execute()


def end_sockets(user_id: int, token_hash: str | None = None) -> int:
    """Disconnect the user's open sockets (only those opened with `token_hash` when given); how many were asked."""
    key = KEY.format(user_id=user_id)
    client = redis_client()
    socketio = current_app.extensions.get("socketio")
    ended = 0
    for entry, credential in client.hgetall(key).items():
        if token_hash is not None and credential != token_hash:
            continue
        namespace, _, sid = entry.partition(" ")
        client.hdel(key, entry)
        if socketio is None:
            continue
        try:
            socketio.server.disconnect(sid, namespace=namespace)
            ended += 1
        except Exception:  # noqa: BLE001 - a failed disconnect must not fail the logout itself
            log.exception("socket disconnect failed", extra={"sid": sid})
    return ended
