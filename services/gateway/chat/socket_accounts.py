"""The account behind each Socket.IO connection, cached for a few seconds per socket.

Looking the account up from the connect token on every event was a database query per chat message. The cache
keeps the guarantee that a signed-out or demoted caller is refused from the next event on: logout and role changes
end the user's sockets through `socket_sessions.end_sockets`, which removes the socket's Redis record before the
request returns, and every event checks that record (one Redis round trip, no database). What that does not see
(a token merely expiring) is caught by the short TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from services.gateway.domain.accounts import Account
from services.gateway.socket_sessions import KEY as SOCKETS_KEY

TTL_S = 10.0


@dataclass(frozen=True)
class _Entry:
    token_hash: str
    account: Account
    loaded_at: float


class SocketAccounts:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def account(
        self,
        sid: str,
        namespace: str,
        token_hash: str,
        client: redis.Redis,
        load: Callable[[str], Account | None],
    ) -> Account | None:
        """The socket's account: from the cache while fresh and the socket's record still stands, else loaded."""
        with self._lock:
            entry = self._entries.get(sid)
        if entry is not None and entry.token_hash == token_hash and self.clock() - entry.loaded_at < self.ttl_s:
            try:
                standing = bool(client.hexists(SOCKETS_KEY.format(user_id=entry.account.id), f"{namespace} {sid}"))
            except redis.RedisError:
                # redis-py caps a pool at 100 connections; with 1,000 socket threads it can run out. Asking the
                # database instead (the uncached path) keeps the event working.
                return load(token_hash)
            if standing:
                return entry.account
            self.forget(sid)  # ended by a logout or a role change: its disconnect is on its way
            return None
        account = load(token_hash)
        with self._lock:
            if account is None:
                self._entries.pop(sid, None)
            else:
                self._entries[sid] = _Entry(token_hash, account, self.clock())
        return account

    def forget(self, sid: str) -> None:
        with self._lock:
            self._entries.pop(sid, None)
