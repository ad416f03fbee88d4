"""`MemoryRateLimiter`: exact sliding windows in this process (the embedded profile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from mynth_core.clock import Clock
from mynth_core.limits import RateDecision, RateLimit, SlidingLog

if TYPE_CHECKING:
    from mynth_core.limits import RateLimiter


@attrs.define
class MemoryRateLimiter:
    """One sliding-window log per `(bucket, key)`, pruned as it goes so memory stays bounded.

    Counts are per process: with several `mynth serve` instances use `RedisRateLimiter`.
    A hit never awaits, so it is atomic under asyncio; the store is never unreachable.
    """

    clock: Clock
    _log: SlidingLog = attrs.field(factory=SlidingLog)

    async def hit(self, key: str, rule: RateLimit) -> RateDecision:
        return self._log.hit(key, rule, self.clock.now())


if TYPE_CHECKING:
    _conforms: type[RateLimiter] = MemoryRateLimiter
