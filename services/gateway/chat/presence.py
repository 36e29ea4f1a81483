"""Who is in a chat room right now, across gateway processes: a Redis hash per room, socket id -> user id.

A process that dies without cleaning up leaves its sockets' entries behind; each entry is therefore also kept in
a per-socket key with a TTL that a background task of the socket's process refreshes (chat/sockets.py), and readers
drop entries whose key has expired.
"""

from __future__ import annotations

import redis

ENTRY_TTL_S = 120


def _room_key(room_id: str) -> str:
    return f"chat:presence:{room_id}"


def _sid_key(sid: str) -> str:
    return f"chat:presence-sid:{sid}"


def enter(client: redis.Redis, room_id: str, sid: str, user_id: int) -> None:
    pipe = client.pipeline()
    pipe.hset(_room_key(room_id), sid, str(user_id))
    pipe.set(_sid_key(sid), "1", ex=ENTRY_TTL_S)
    pipe.execute()


def refresh(client: redis.Redis, sid: str) -> None:
    client.expire(_sid_key(sid), ENTRY_TTL_S)


def refresh_many(client: redis.Redis, sids: list[str]) -> None:
    if not sids:
        return
    pipe = client.pipeline()
    for sid in sids:
        pipe.expire(_sid_key(sid), ENTRY_TTL_S)
    pipe.execute()


def leave(client: redis.Redis, room_id: str, sid: str) -> None:
    client.hdel(_room_key(room_id), sid)


def forget_socket(client: redis.Redis, room_ids: list[str], sid: str) -> None:
    pipe = client.pipeline()
    for room_id in room_ids:
        pipe.hdel(_room_key(room_id), sid)
    pipe.delete(_sid_key(sid))
    pipe.execute()


def present(client: redis.Redis, room_id: str) -> list[int]:
    entries = client.hgetall(_room_key(room_id))
    if not entries:
        return []
    sids = list(entries)
    pipe = client.pipeline()
    for sid in sids:
        pipe.exists(_sid_key(_text(sid)))
    users: set[int] = set()
    stale = []
    for sid, alive in zip(sids, pipe.execute(), strict=True):
        if alive:
            users.add(int(entries[sid]))
        else:
            stale.append(sid)
    if stale:
        client.hdel(_room_key(room_id), *stale)
    return sorted(users)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
