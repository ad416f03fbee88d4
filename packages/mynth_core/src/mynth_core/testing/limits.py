"""`FakeRateLimiter`: the memory store's exact semantics, a record of hits, a switchable outage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import ServiceUnavailableError
from mynth_core.limits import RateDecision, RateLimit, SlidingLog

if TYPE_CHECKING:
    from mynth_core.limits import RateLimiter


@attrs.define
class FakeRateLimiter:
    """An in-process sliding-window limiter for tests of code that is rate limited.

    Set `unreachable` to make every hit raise `ServiceUnavailableError`, as a store outage
    would. `hits` records every `(bucket, key)` asked about, admitted or not (never during an
    outage).
    """

    clock: Clock
    unreachable: bool = False
    hits: list[tuple[str, str]] = attrs.field(factory=list)
    _log: SlidingLog = attrs.field(factory=SlidingLog)

    async def hit(self, key: str, rule: RateLimit) -> RateDecision:
        if self.unreachable:
            raise ServiceUnavailableError(detail="the rate-limit store is unreachable (fake)")
        self.hits.append((rule.bucket, key))
        return self._log.hit(key, rule, self.clock.now())


if TYPE_CHECKING:
    _conforms: type[RateLimiter] = FakeRateLimiter
