"""Failed sign-ins counted per account *and* client address, in Redis, with growing delays.

Counting per account alone let anyone lock any account out (five wrong passwords from anywhere also blocked the
right one); counting per pair means a guesser slows only themself, and the owner signing in from another
address is not affected. After `free_failures` failures in a row the pair waits base, 2 x base, 4 x base, ... up
to `max_delay_s` before the next attempt is even checked (no password hashing while blocked). A success clears
the pair.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import redis
from flask import current_app, request

from services.gateway.domain.accounts import PolicyError, normalise_email

KEY_PREFIX = "gateway:login-failures:"


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5
    base_delay_s: float = 30.0
    max_delay_s: float = 900.0
    forget_after_s: int = 24 * 3600  # a pair that has been quiet this long starts again from zero

    def delay_after(self, failures: int) -> float:
        """How long the pair waits after its `failures`-th failure in a row: nothing before the `free_failures`-th,
        then base, 2 x base, 4 x base, ... up to the maximum."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** min(over, 30))


def _digest(value: str, size: int) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:size]


def _account_key(email: str) -> str:
    try:
        email = normalise_email(email)
    except PolicyError:
        email = email.strip().lower()
    return _digest(email, 32)  # hashed: no e-mail addresses in Redis keys


class LoginThrottle:
    def __init__(self, client: redis.Redis, policy: ThrottlePolicy, enabled: bool = True) -> None:
        self.redis = client
        self.policy = policy
        self.enabled = enabled

    def _key(self, email: str, address: str) -> str:
        return f"{KEY_PREFIX}{_account_key(email)}:{_digest(address, 16)}"

    def wait_seconds(self, email: str, address: str) -> int:
        """Whole seconds this account+address pair must still wait before a sign-in is checked (0: go ahead)."""
        if not self.enabled:
            return 0
        until = self.redis.hget(self._key(email, address), "until")
        if until is None:
            return 0
        return max(0, math.ceil(float(until) - time.time()))

    def failed(self, email: str, address: str) -> None:
        if not self.enabled:
            return
        key = self._key(email, address)
        failures = int(self.redis.hincrby(key, "failures", 1))
        delay = self.policy.delay_after(failures)
        pipe = self.redis.pipeline()
        if delay:
            pipe.hset(key, "until", str(time.time() + delay))
        pipe.expire(key, int(self.policy.forget_after_s + delay))
        pipe.execute()

    def succeeded(self, email: str, address: str) -> None:
        if self.enabled:
            self.redis.delete(self._key(email, address))


def init_login_throttle(client: redis.Redis, config: dict) -> LoginThrottle:  # type: ignore[type-arg]
    policy = ThrottlePolicy(
        free_failures=int(config["LOGIN_FREE_FAILURES"]),
        base_delay_s=float(config["LOGIN_DELAY_BASE_S"]),
        max_delay_s=float(config["LOGIN_DELAY_MAX_S"]),
    )
    return LoginThrottle(client, policy, enabled=bool(config["RATE_LIMITS"]))


def login_throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def client_address() -> str:
    return request.remote_addr or "unknown"  # ProxyFix (TRUSTED_PROXY_HOPS) has already picked the real client
