"""`RedisRateLimiter`: exact sliding windows shared by every instance through Redis.

Each `(bucket, key)` is a sorted set of admitted requests scored by their time in epoch
milliseconds. One Lua script drops the entries that left the window, counts the rest, adds
this request only when under the limit and sets the key to expire with its newest entry, so
check and record are one atomic step even for instances hitting the same key at once. Time
comes from the injected clock, passed to the script, so instances with synchronised clocks
(and tests with a frozen one) agree.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Final

import attrs
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from mynth_core.clock import Clock
from mynth_core.errors import ServiceUnavailableError
from mynth_core.limits import RateDecision, RateLimit, decision_for, epoch_ms

if TYPE_CHECKING:
    from mynth_core.limits import RateLimiter

DEFAULT_PREFIX: Final = "mynth:ratelimit:"
SOCKET_TIMEOUT_SECONDS: Final = 0.5

# KEYS[1] the set; ARGV: now (ms), window (ms), limit, a unique member for this request.
# Returns {admitted 0/1, admitted count in the window, oldest score or false}.
_HIT: Final = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local admitted = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  count = count + 1
  admitted = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {admitted, count, oldest[2] or false}
"""


def redis_client(url: str, *, timeout: float = SOCKET_TIMEOUT_SECONDS) -> Redis:
    """A client for the composition root: short socket timeouts and one immediate retry.

    A rate-limit check sits on the request path, so an unreachable Redis must fail within about
    a second, not after redis-py's default backoff. The caller closes it (`await aclose()`).
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), retries=1),
    )


@attrs.define
class RedisRateLimiter:
    """The `RateLimiter` over a Redis shared by every instance; keys are `prefix + bucket:key`.

    Connection failures, timeouts and Redis errors become `ServiceUnavailableError`.
    """

    client: Redis
    clock: Clock
    prefix: str = DEFAULT_PREFIX
    _script: AsyncScript = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._script = self.client.register_script(_HIT)

    async def hit(self, key: str, rule: RateLimit) -> RateDecision:
        now_ms = epoch_ms(self.clock.now())
        member = f"{now_ms}:{secrets.token_hex(8)}"
        try:
            admitted, count, oldest = await self._script(
                keys=[f"{self.prefix}{rule.bucket}:{key}"],
                args=[now_ms, rule.window_ms, rule.limit, member],
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise ServiceUnavailableError(
                detail=f"the rate-limit store is unavailable: {type(exc).__name__}"
            ) from exc
        return decision_for(
            rule,
            allowed=bool(admitted),
            admitted=int(count),
            oldest_ms=None if oldest is None else int(float(oldest)),
            now_ms=now_ms,
        )


if TYPE_CHECKING:
    _conforms: type[RateLimiter] = RedisRateLimiter
