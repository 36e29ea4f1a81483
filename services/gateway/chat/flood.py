"""Per-user flood limit for chat messages: a token bucket in Redis, shared by every gateway process.

A bucket per user (not per connection or IP): someone flooding from three tabs is one person, and the people
next to them behind the same NAT keep writing. The Lua script refills and takes a token atomically, on Redis's
clock so two processes with skewed clocks agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

_TAKE = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
local wait_ms = 0
if allowed == 0 then wait_ms = math.ceil((1 - tokens) / rate * 1000) end
return {allowed, wait_ms}
"""


@dataclass(frozen=True)
class FloodVerdict:
    allowed: bool
    retry_after_ms: int


class FloodLimit:
    def __init__(self, client: redis.Redis, burst: int, per_second: float, enabled: bool = True) -> None:
        self.burst = burst
        self.per_second = per_second
        self.enabled = enabled and burst > 0 and per_second > 0
        self._take = client.register_script(_TAKE)

    def take(self, user_id: int) -> FloodVerdict:
        if not self.enabled:
            return FloodVerdict(True, 0)
        allowed, wait_ms = self._take(keys=[f"chat:flood:{user_id}"], args=[self.burst, self.per_second])
        return FloodVerdict(bool(int(allowed)), int(wait_ms))
