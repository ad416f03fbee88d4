"""The shared provider plumbing of http_client.py: Retry-After, classification, the policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mynth_adapters.http_client import (
    RETRY_AFTER_CAP,
    RetryPolicy,
    classify,
    decode_json,
    parse_retry_after,
    provider_client,
    send,
)
from mynth_core.errors import (
    ProviderBadResponseError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from providers.polar import http_date
from providers.server import Sleeps

NOW = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)


# --- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7),
        (" 7 ", 7),
        ("0", 0),
        ("-3", 0),
        ("60", 60),
        ("61", RETRY_AFTER_CAP),
        ("86400", RETRY_AFTER_CAP),
        ("9" * 400, RETRY_AFTER_CAP),
        ("Thu, 01 Jan 2026 00:00:07 GMT", 7),
        ("Thursday, 01-Jan-26 00:00:07 GMT", 7),  # RFC 850, still accepted by RFC 9110
        ("Wed, 31 Dec 2025 23:59:00 GMT", 0),
        ("Fri, 02 Jan 2026 00:00:00 GMT", RETRY_AFTER_CAP),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date_clamped_to_the_cap(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "1.5", "7s", "Thu, 99 Foo 2026"])
def test_an_absent_or_unparsable_retry_after_is_ignored(header):
    assert parse_retry_after(header, now=NOW) is None


def test_the_cap_is_configurable():
    assert parse_retry_after("30", now=NOW, cap=5) == 5


# --- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (408, ProviderUnavailableError),
        (500, ProviderUnavailableError),
        (502, ProviderUnavailableError),
        (503, ProviderUnavailableError),
        (504, ProviderUnavailableError),
        (429, ProviderRateLimitedError),
        (401, ProviderMisconfiguredError),
        (402, ProviderMisconfiguredError),
        (403, ProviderMisconfiguredError),
        (400, ProviderRejectedError),
        (404, ProviderRejectedError),
        (413, ProviderRejectedError),
        (422, ProviderRejectedError),
        (307, ProviderBadResponseError),
        (501, ProviderBadResponseError),
    ],
)
def test_each_status_falls_into_its_category(status, error):
    classified = classify(httpx.Response(status), provider="p", now=NOW)

    assert type(classified) is error
    assert str(classified) == f"p: HTTP {status}"


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_2xx_is_no_error(status):
    assert classify(httpx.Response(status), provider="p", now=NOW) is None


def test_a_429_carries_its_wait_rounded_up():
    later = http_date(NOW + timedelta(seconds=7))

    assert _retry_after(429, {"retry-after": "12"}) == 12
    assert _retry_after(429, {"retry-after": later}) == 7
    assert _retry_after(429, {}) is None


def test_a_402_with_retry_after_is_rate_limited_not_misconfigured():
    assert _retry_after(402, {"retry-after": "3"}) == 3


def _retry_after(status: int, headers: dict[str, str]) -> int | None:
    error = classify(httpx.Response(status, headers=headers), provider="p", now=NOW)
    assert isinstance(error, ProviderRateLimitedError)
    return error.retry_after


def test_decode_json_accepts_only_a_json_body():
    def response(content_type: str, body: bytes) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    assert decode_json(response("application/json", b'{"a": 1}'), provider="p") == {"a": 1}
    with pytest.raises(ProviderBadResponseError, match="expected JSON"):
        decode_json(response("text/html", b"<html>"), provider="p")
    with pytest.raises(ProviderBadResponseError, match="malformed JSON"):
        decode_json(response("application/json", b'{"a": '), provider="p")


# --- send and the client ----------------------------------------------------------------------


async def test_send_translates_transport_errors_and_statuses():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(422, json={"detail": []})

    async with provider_client(
        "http://p.test", httpx.Timeout(1), transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(ProviderUnavailableError, match=r"transport error \(ConnectError\)"):
            await send(client, "GET", "/down", provider="p")
        with pytest.raises(ProviderUnavailableError, match=r"timed out \(ReadTimeout\)"):
            await send(client, "GET", "/slow", provider="p")
        with pytest.raises(ProviderRejectedError) as caught:
            await send(client, "POST", "/x", provider="p", json_body={"a": 1})
    assert caught.value.status == 422


async def test_the_provider_client_sends_its_headers_and_follows_no_redirect():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(307, headers={"location": "/elsewhere"})

    transport = httpx.MockTransport(handler)
    async with provider_client(
        "http://p.test/api", httpx.Timeout(1), {"user-agent": "mynth"}, transport=transport
    ) as client:
        with pytest.raises(ProviderBadResponseError, match="HTTP 307"):
            await send(client, "GET", "/v1/x", provider="p")
    assert [str(r.url) for r in seen] == ["http://p.test/api/v1/x"]
    assert seen[0].headers["user-agent"] == "mynth"


# --- the policy -------------------------------------------------------------------------------


class Script:
    """An attempt function that raises the scripted errors in order, then returns "ok"."""

    def __init__(self, *errors: ProviderError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def policy(sleeps: Sleeps, **fields: float) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, **fields)  # type: ignore[arg-type]


def unavailable() -> ProviderUnavailableError:
    return ProviderUnavailableError("p: HTTP 503")


async def test_transient_errors_are_retried_with_jittered_exponential_backoff(sleeps):
    attempt = Script(unavailable(), unavailable(), unavailable())

    assert await policy(sleeps, attempts=4).run(attempt, provider="p") == "ok"
    assert attempt.calls == 4
    first, second, third = sleeps.waits
    assert 0.5 <= first <= 0.5
    assert 0.5 <= second <= 1
    assert 0.5 <= third <= 2


async def test_the_backoff_never_exceeds_its_maximum(sleeps):
    attempt = Script(*[unavailable()] * 9)

    await policy(sleeps, attempts=10, budget=1000).run(attempt, provider="p")

    assert max(sleeps.waits) <= 8
    assert min(sleeps.waits) >= 0.5


async def test_a_rate_limited_error_waits_its_retry_after(sleeps):
    attempt = Script(ProviderRateLimitedError("p: HTTP 429", retry_after=7))

    assert await policy(sleeps).run(attempt, provider="p") == "ok"
    assert sleeps.waits == [7]


async def test_a_rate_limited_error_without_a_wait_backs_off(sleeps):
    attempt = Script(ProviderRateLimitedError("p: HTTP 429"))

    assert await policy(sleeps).run(attempt, provider="p") == "ok"
    assert sleeps.waits == [0.5]


async def test_after_the_last_attempt_the_last_error_is_raised(sleeps):
    errors = [ProviderUnavailableError(f"p: try {n}") for n in (1, 2, 3)]

    with pytest.raises(ProviderUnavailableError, match="try 3"):
        await policy(sleeps, attempts=3).run(Script(*errors), provider="p")
    assert len(sleeps.waits) == 2


async def test_a_wait_beyond_the_budget_stops_at_once_with_the_wait(sleeps):
    attempt = Script(ProviderRateLimitedError("p: HTTP 429", retry_after=30))

    with pytest.raises(ProviderRateLimitedError) as caught:
        await policy(sleeps, budget=20).run(attempt, provider="p")

    assert caught.value.retry_after == 30
    assert attempt.calls == 1
    assert sleeps.waits == []


async def test_a_backoff_beyond_the_remaining_budget_stops_at_once(sleeps):
    attempt = Script(unavailable(), unavailable())

    with pytest.raises(ProviderUnavailableError):
        await policy(sleeps, budget=0.4).run(attempt, provider="p")
    assert attempt.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        ProviderRejectedError("p: HTTP 422", status=422),
        ProviderMisconfiguredError("p: HTTP 401", status=401),
    ],
)
async def test_rejected_and_misconfigured_errors_are_never_retried(sleeps, error):
    attempt = Script(error)

    with pytest.raises(type(error)):
        await policy(sleeps).run(attempt, provider="p")
    assert attempt.calls == 1


async def test_a_bad_response_is_retried_only_once(sleeps):
    attempt = Script(ProviderBadResponseError("p: 1"), ProviderBadResponseError("p: 2"))

    with pytest.raises(ProviderBadResponseError, match="p: 2"):
        await policy(sleeps, attempts=5).run(attempt, provider="p")
    assert attempt.calls == 2


async def test_the_budget_bounds_an_attempt_in_flight():
    async def hangs() -> str:
        await asyncio.sleep(10)
        return "late"

    with pytest.raises(ProviderUnavailableError, match=r"no answer within 0\.05 s"):
        await RetryPolicy(budget=0.05).run(hangs, provider="p")


async def test_a_non_provider_exception_passes_through_untouched(sleeps):
    async def broken() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await policy(sleeps).run(broken, provider="p")
    assert sleeps.waits == []
