"""Rate limits at the edge (PRODUCT.md §10): the bucket keys and the `RateLimit-*` headers.

Handlers call `admit` before their use case, so a limit is checked before any charge. The
decision's headers go out on every response of the request (a 429, a 402, a stream, ...).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request

from mynth_core.identity import Principal
from mynth_core.limits import (
    CREATION,
    PERSONA_GENERATE_ANONYMOUS,
    PUBLISH,
    RateDecision,
    RateLimit,
    RateLimiter,
    client_key,
    decide,
    enforce,
)
from mynth_http.logging import current_request, log_event
from mynth_http.middleware import client_ip

_log = logging.getLogger("mynth.http")
_FORWARDED: Final = "x-forwarded-for"


def rate_limit_headers(rule: RateLimit, decision: RateDecision) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Limit`, `-Remaining`, `-Reset` (seconds until a slot frees) and `-Policy`."""
    return [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(decision.reset_after_seconds).encode()),
        (b"ratelimit-policy", rule.policy.encode()),
    ]


def caller_address(request: Request[Any, Any, Any]) -> str:
    """The client IP: the socket peer, or X-Forwarded-For behind a trusted proxy."""
    forwarded = request.headers.get(_FORWARDED)
    trusted = request.app.state.settings.http.trusted_proxies
    return client_ip(request.scope, forwarded.encode("latin-1") if forwarded else None, trusted)


async def admit(request: Request[Any, Any, Any], rule: RateLimit, key: str) -> RateDecision:
    """Hit `rule` for `key`; remember the headers; raise `RateLimitedError` when exhausted.

    Raises:
        RateLimitedError: the bucket is full (429, `Retry-After`).
        ServiceUnavailableError: the store is down and the bucket fails closed (503).
    """
    limiter: RateLimiter = request.app.state.container.resolve(RateLimiter)
    decision = await decide(limiter, key, rule)
    if (context := current_request.get()) is not None:
        context.response_headers.extend(rate_limit_headers(rule, decision))
    if not decision.allowed:
        key_kind = "ip" if rule is PERSONA_GENERATE_ANONYMOUS else "user"
        log_event(_log, "rate_limit.rejected", bucket=rule.bucket, key_kind=key_kind)
    return enforce(decision, rule)


async def admit_creation(request: Request[Any, Any, Any], who: Principal) -> RateDecision:
    """The shared `creation` bucket of a signed-in user (generate, enhance, create, clone...)."""
    return await admit(request, CREATION, who.user_id)


async def admit_publish(request: Request[Any, Any, Any], who: Principal) -> RateDecision:
    """The `publish` bucket of a signed-in user (5 publish requests an hour)."""
    return await admit(request, PUBLISH, who.user_id)


async def admit_anonymous_generation(request: Request[Any, Any, Any]) -> RateDecision:
    """The anonymous persona-generation bucket, keyed by client IP (an IPv6 address's /64)."""
    address = caller_address(request)
    try:
        key = client_key(address)
    except ValueError:  # no socket peer (a test transport): one shared key
        key = address
    return await admit(request, PERSONA_GENERATE_ANONYMOUS, key)
