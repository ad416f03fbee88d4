"""Provider HTTP plumbing shared by every adapter: the client factory, errors, the retry policy.

PROVIDERS §0: each response is classified into one core `ProviderError` subclass (§0.2), and
the one tenacity policy (§0.3) decides what to retry. Adapters receive their client and call
`send` (buffered requests) inside `RetryPolicy.run`; streaming adapters use `classify` and
`transport_error` directly and must not retry once output has reached the caller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar, cast

import attrs
import httpx
import tenacity

from mynth_core.errors import (
    ProviderBadResponseError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")
Now = Callable[[], datetime]

RETRY_AFTER_CAP: Final = 60.0  # seconds; a longer Retry-After is treated as this long
TRANSIENT_STATUSES: Final = frozenset({408, 500, 502, 503, 504})
MISCONFIGURED_STATUSES: Final = frozenset({401, 402, 403})  # credentials, balance, permission
_TOO_MANY_REQUESTS: Final = 429
_PAYMENT_REQUIRED: Final = 402
_MAX_DELTA_DIGITS: Final = 10


def _utc_now() -> datetime:
    return datetime.now(UTC)


def provider_client(
    base_url: str,
    timeout: httpx.Timeout,
    headers: Mapping[str, str] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The `AsyncClient` for one provider, built once by the composition root and closed by it.

    Redirects are never followed (one from these APIs is a bug to surface, PROVIDERS §0.1).
    `timeout` is per phase (connect, read between bytes, write, pool); the overall limit of
    a call is its `RetryPolicy.budget`. `transport` is the test seam.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        headers=dict(headers or {}),
        follow_redirects=False,
        transport=transport,
    )


def parse_retry_after(
    value: str | None, *, now: datetime, cap: float = RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date (RFC 9110).

    Negative → 0, longer than `cap` → `cap`, absent or unparsable → None (the caller falls back
    to its own backoff).
    """
    if value is None or not (text := value.strip()):
        return None
    seconds: float
    if text.lstrip("-").isascii() and text.lstrip("-").isdigit():
        if len(text) > _MAX_DELTA_DIGITS:  # absurdly long: certainly above the cap
            return cap if not text.startswith("-") else 0.0
        seconds = int(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; `-0000` parses as naive
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), cap)


def classify(response: httpx.Response, *, provider: str, now: datetime) -> ProviderError | None:
    """The core error for a non-2xx response (PROVIDERS §0.2), or None for a 2xx.

    429 (and 402 *with* `Retry-After`, OpenRouter's credit throttle) → rate-limited carrying the
    wait; 408/500/502/503/504 → unavailable; 401/402/403 → misconfigured; other 4xx →
    rejected; anything else (a redirect, an unusual 5xx) → bad response.
    """
    status = response.status_code
    if httpx.codes.is_success(status):
        return None
    where = f"{provider}: HTTP {status}"
    retry_after = response.headers.get("retry-after")
    if status == _TOO_MANY_REQUESTS or (status == _PAYMENT_REQUIRED and retry_after is not None):
        wait = parse_retry_after(retry_after, now=now)
        return ProviderRateLimitedError(
            where, retry_after=None if wait is None else math.ceil(wait)
        )
    if status in TRANSIENT_STATUSES:
        return ProviderUnavailableError(where)
    if status in MISCONFIGURED_STATUSES:
        return ProviderMisconfiguredError(where, status=status)
    if httpx.codes.is_client_error(status):
        return ProviderRejectedError(where, status=status)
    return ProviderBadResponseError(where)


def transport_error(exc: httpx.TransportError, *, provider: str) -> ProviderUnavailableError:
    """A connect error, timeout, reset or truncated body, as a transient core error."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "transport error"
    return ProviderUnavailableError(f"{provider}: {kind} ({type(exc).__name__})")


async def send(  # noqa: PLR0913 - one keyword per part of a request
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    json_body: object = None,
    headers: Mapping[str, str] | None = None,
    now: Now = _utc_now,
) -> httpx.Response:
    """One buffered request; raises the classified core error for a transport failure or non-2xx.

    The response body of a refused request is logged (truncated), never the request headers.
    """
    try:
        response = await client.request(method, url, json=json_body, headers=headers)
    except httpx.TransportError as exc:
        raise transport_error(exc, provider=provider) from exc
    error = classify(response, provider=provider, now=now())
    if error is not None:
        if isinstance(error, ProviderRejectedError | ProviderMisconfiguredError):
            level = (
                logging.ERROR if isinstance(error, ProviderMisconfiguredError) else logging.WARNING
            )
            _log.log(level, "%s %s refused: %s", error, url, response.text[:500])
        raise error
    return response


def decode_json(response: httpx.Response, *, provider: str) -> Any:  # noqa: ANN401 - untrusted JSON
    """The decoded JSON body of a 2xx; a non-JSON content type or body is a bad response."""
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise ProviderBadResponseError(f"{provider}: expected JSON, got {content_type[:60]!r}")
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise ProviderBadResponseError(f"{provider}: malformed JSON") from exc


def _optional_fraction(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not 0 <= value < 1:
        raise ValueError(f"{attribute.name} must be in [0, 1), not {value}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """The one retry policy (PROVIDERS §0.3): bounded attempts inside a total time budget.

    Retried: unavailable (transport errors, timeouts, 408/5xx) and rate-limited (429) errors,
    and a bad response once; never rejected or misconfigured ones. The wait is the error's
    `Retry-After` when it has one, else exponential backoff with jitter between `backoff_min`
    and `backoff_max`; with `jitter` set, the backoff is instead `backoff_min`, doubling up to
    `backoff_max`, each scaled by a random factor in `1 ± jitter`. A wait that would end past
    `budget`, or a `Retry-After` above `max_retry_after`, stops at once and re-raises the last
    error (a rate-limited one carries its wait). The whole call, waits included, is cut at
    `budget` seconds (`ProviderTimeoutError`). Only wrap calls that are safe to repeat. `sleep`
    is the test seam.
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    budget: float = attrs.field(default=20.0, validator=attrs.validators.gt(0))
    backoff_min: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    jitter: float | None = attrs.field(default=None, validator=_optional_fraction)
    max_retry_after: float | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run(self, attempt: Callable[[], Awaitable[T]], *, provider: str) -> T:
        """Await `attempt()` until it succeeds or the policy gives up; re-raise its last error.

        Raises:
            ProviderError: the last attempt's error; `ProviderUnavailableError` if the budget
                ran out while an attempt was in flight.
        """
        bad_responses = 0

        def should_retry(exc: BaseException) -> bool:
            nonlocal bad_responses
            if isinstance(exc, ProviderBadResponseError):
                bad_responses += 1
                return bad_responses == 1
            return isinstance(exc, ProviderUnavailableError)

        usual_stop = tenacity.stop_after_attempt(self.attempts) | tenacity.stop_before_delay(
            self.budget
        )

        def stop(state: tenacity.RetryCallState) -> bool:
            return usual_stop(state) or self._retry_after_too_long(state)

        retrying = tenacity.AsyncRetrying(
            stop=stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(should_retry),
            reraise=True,
            sleep=self.sleep,
            before_sleep=_log_retry(provider),
        )
        try:
            async with asyncio.timeout(self.budget):
                return cast("T", await retrying(attempt))
        except TimeoutError as exc:
            raise ProviderTimeoutError(f"{provider}: no answer within {self.budget:g} s") from exc

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ProviderRateLimitedError) and exc.retry_after is not None:
            return float(exc.retry_after)
        if self.jitter is not None:
            base = min(self.backoff_min * 2.0 ** (state.attempt_number - 1), self.backoff_max)
            return base * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - backoff jitter, not a secret
        backoff = tenacity.wait_random_exponential(
            multiplier=self.backoff_min, min=self.backoff_min, max=self.backoff_max
        )
        return backoff(state)

    def _retry_after_too_long(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        return (
            self.max_retry_after is not None
            and isinstance(exc, ProviderRateLimitedError)
            and exc.retry_after is not None
            and exc.retry_after > self.max_retry_after
        )


def _log_retry(provider: str) -> Callable[[tenacity.RetryCallState], None]:
    def log(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        _log.warning(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            provider,
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    return log
