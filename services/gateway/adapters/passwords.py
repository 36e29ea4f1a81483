"""Argon2id password hashing (argon2-cffi), with a dummy check so unknown e-mails cost the same time.

Hashing is CPU-bound on purpose (~50 ms). Under gevent (if the gateway runs on gunicorn -k gevent) it would stop every
websocket of the process for that long, so it runs in gevent's pool of real threads (argon2-cffi releases the
GIL); without gevent it runs in the calling thread as before. Each hash also takes tens of MiB: a semaphore sized
to the cores lets only that many run at once (a burst of sign-ins waits in line instead of exhausting memory).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")


def off_the_loop(fn: Callable[..., T], *args: object) -> T:
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn(*args)
    if not monkey.is_module_patched("socket"):
        return fn(*args)
    return get_hub().threadpool.apply(fn, args)


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, max_concurrent: int | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self.max_concurrent = max_concurrent or os.cpu_count() or 1
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def hash(self, password: str) -> str:
        with self._slots:
            return off_the_loop(self.hasher.hash, password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            with self._slots:
                return off_the_loop(self.hasher.verify, stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than today's (they were raised since)."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash(secrets.token_urlsafe(16))

    def burn_time(self, password: str) -> None:
        """Run one verification for nothing: the answer for an unknown e-mail must not come back faster."""
        self.verify(self._dummy_hash, password)
