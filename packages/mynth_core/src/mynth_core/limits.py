"""Rate limits (PRODUCT.md §10): the buckets, the RateLimiter port and its failure policy.

Every bucket is a sliding window: a request is admitted iff fewer than `limit` requests were
*admitted* in the `window` before it; rejected requests do not count. Time is measured in whole
milliseconds since the epoch, so every store (memory, Redis) computes the same answer from the
same clock.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

import attrs

from mynth_core.errors import RateLimitedError, ServiceUnavailableError

_log = logging.getLogger(__name__)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


class StoreFailure(enum.Enum):
    """What a bucket does when its store cannot be reached."""

    OPEN = "open"  # admit the request and log
    CLOSED = "closed"  # refuse it with ServiceUnavailableError (503)


@attrs.frozen
class RateLimit:
    """One bucket: at most `limit` admitted requests per key in any sliding `window`."""

    bucket: str
    limit: int = attrs.field(validator=attrs.validators.gt(0))
    window: timedelta = attrs.field(validator=attrs.validators.gt(timedelta(0)))
    on_store_failure: StoreFailure = StoreFailure.OPEN

    @property
    def window_ms(self) -> int:
        return self.window // _MS

    @property
    def policy(self) -> str:
        """The `RateLimit-Policy` header value, e.g. `10;w=3600`."""
        return f"{self.limit};w={int(self.window.total_seconds())}"


PERSONA_GENERATE_ANONYMOUS: Final = RateLimit(
    "persona_generate_anonymous", 10, timedelta(hours=1), StoreFailure.CLOSED
)
CREATION: Final = RateLimit("creation", 100, timedelta(hours=1))
PUBLISH: Final = RateLimit("publish", 5, timedelta(hours=1))
CHAT_REPLY_ZERO_COST: Final = RateLimit("chat_reply_zero_cost", 120, timedelta(hours=2))

RULES: Final[tuple[RateLimit, ...]] = (
    PERSONA_GENERATE_ANONYMOUS,
    CREATION,
    PUBLISH,
    CHAT_REPLY_ZERO_COST,
)


@attrs.frozen(kw_only=True)
class RateDecision:
    """The answer to one hit, with everything the `RateLimit-*` headers need.

    `remaining` counts the requests still admitted in the window after this one.
    `reset_after_seconds` is the whole seconds (rounded up) until the oldest admitted request
    leaves the window and frees a slot; 0 when the window is empty. `retry_after_seconds` is
    set only on a rejection (then equal to `reset_after_seconds`, at least 1).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after_seconds: int
    retry_after_seconds: int | None = None

    @classmethod
    def unchecked(cls, rule: RateLimit) -> RateDecision:
        """The admission a fail-open bucket gives while its store is unreachable."""
        return cls(allowed=True, limit=rule.limit, remaining=rule.limit, reset_after_seconds=0)


class RateLimiter(Protocol):
    """**Port**: sliding-window counters, kept per `(rule.bucket, key)`.

    `hit` admits the request iff fewer than `rule.limit` requests were admitted for this bucket
    and key in the `rule.window` before now (a request admitted at `t` counts until just before
    `t + window`); an admitted request is recorded, a rejected one is not. Check and record
    are one atomic step, also across processes sharing the store. Raises
    `ServiceUnavailableError` when the store cannot be reached (the request is then not
    recorded). Cancelled, a hit may or may not have been recorded.
    """

    async def hit(self, key: str, rule: RateLimit) -> RateDecision: ...


def epoch_ms(at: datetime) -> int:
    """`at` as whole milliseconds since the epoch (exact integer arithmetic, no float)."""
    return (at - _EPOCH) // _MS


def _ceil_seconds(ms: int) -> int:
    return -(-ms // 1000)


def decision_for(
    rule: RateLimit, *, allowed: bool, admitted: int, oldest_ms: int | None, now_ms: int
) -> RateDecision:
    """The decision after a hit, from the admitted count in the window and its oldest entry.

    Shared by every store so their numbers agree: `admitted` and `oldest_ms` include this
    request if it was admitted.
    """
    reset = 0 if oldest_ms is None else max(0, _ceil_seconds(oldest_ms + rule.window_ms - now_ms))
    return RateDecision(
        allowed=allowed,
        limit=rule.limit,
        remaining=max(0, rule.limit - admitted),
        reset_after_seconds=reset,
        retry_after_seconds=None if allowed else max(1, reset),
    )


@attrs.define
class SlidingLog:
    """An exact in-process sliding-window log per `(bucket, key)`: the memory store's logic.

    `hit` never awaits, so under asyncio each call is atomic. Memory stays bounded: a key's
    expired timestamps are dropped when it is hit, and every `sweep_every` hits all keys are
    pruned and empty ones forgotten.
    """

    sweep_every: int = 1024
    _logs: dict[tuple[str, str], tuple[int, deque[int]]] = attrs.field(factory=dict)
    _hits_since_sweep: int = 0

    def hit(self, key: str, rule: RateLimit, now: datetime) -> RateDecision:
        now_ms = epoch_ms(now)
        self._maybe_sweep(now_ms)
        slot = (rule.bucket, key)
        log = self._logs[slot][1] if slot in self._logs else deque[int]()
        _prune(log, now_ms - rule.window_ms)
        allowed = len(log) < rule.limit
        if allowed:
            log.append(now_ms)
        if log:
            self._logs[slot] = (rule.window_ms, log)
        else:
            self._logs.pop(slot, None)
        return decision_for(
            rule,
            allowed=allowed,
            admitted=len(log),
            oldest_ms=log[0] if log else None,
            now_ms=now_ms,
        )

    def __len__(self) -> int:
        """The number of `(bucket, key)` logs held."""
        return len(self._logs)

    def _maybe_sweep(self, now_ms: int) -> None:
        self._hits_since_sweep += 1
        if self._hits_since_sweep < self.sweep_every:
            return
        self._hits_since_sweep = 0
        for slot, (window_ms, log) in list(self._logs.items()):
            _prune(log, now_ms - window_ms)
            if not log:
                del self._logs[slot]


def _prune(log: deque[int], cutoff_ms: int) -> None:
    # An entry at exactly `now - window` has left the window.
    while log and log[0] <= cutoff_ms:
        log.popleft()


async def decide(limiter: RateLimiter, key: str, rule: RateLimit) -> RateDecision:
    """Hit `rule` for `key`, applying the bucket's store-failure policy.

    An unreachable store re-raises `ServiceUnavailableError` for a fail-closed bucket; a
    fail-open bucket logs a warning and admits the request unchecked.
    """
    try:
        return await limiter.hit(key, rule)
    except ServiceUnavailableError as exc:
        if rule.on_store_failure is StoreFailure.CLOSED:
            raise
        _log.warning("rate limit %s not checked, store unavailable: %s", rule.bucket, exc)
        return RateDecision.unchecked(rule)


def enforce(decision: RateDecision, rule: RateLimit) -> RateDecision:
    """Return an admitting `decision`; raise `RateLimitedError` for a rejection."""
    if not decision.allowed:
        raise RateLimitedError(bucket=rule.bucket, retry_after=decision.retry_after_seconds or 1)
    return decision


async def check(limiter: RateLimiter, key: str, rule: RateLimit) -> RateDecision:
    """`decide`, then `enforce`: what a use case calls before it charges anything."""
    return enforce(await decide(limiter, key, rule), rule)


def client_key(address: str) -> str:
    """The anonymous-bucket key for a client IP: an IPv4 address, or an IPv6 address's /64.

    An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) counts as its IPv4 address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
