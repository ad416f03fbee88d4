"""PolarBillingProvider.create_checkout against the fake Polar on 127.0.0.1 (PROVIDERS §4.3)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from mynth_adapters.http_client import RetryPolicy, provider_client
from mynth_adapters.polar import CHECKOUT_RETRY, CHECKOUT_TIMEOUT
from mynth_core.billing import PackCatalogue, UnconfiguredBillingProvider
from mynth_core.errors import CheckoutUnavailableError, PaymentProviderError, PaymentRejectedError
from mynth_core.ids import UserId
from mynth_core.pricing import DEFAULT_PACKS
from providers.clerk import closed_port
from providers.polar import (
    CHECKOUTS_PATH,
    FAKE_ACCESS_TOKEN,
    PRODUCT_500,
    Reply,
    connection_closed,
    html_bad_gateway,
    http_date,
    malformed_json,
    not_json,
    rate_limited,
    redirect,
    server_error,
    slow,
    truncated,
    unauthorized,
    unprocessable,
)

USER = UserId("user_2q7Pz5tXo9Wd1LmN")
PACK_500 = DEFAULT_PACKS[1]
FAST_ATTEMPTS = 3  # conftest FAST_RETRY
SUCCESS_URL = "https://app.example.com/billing/done?checkout_id={CHECKOUT_ID}"


async def checkout(billing):
    return await billing.create_checkout(USER, PACK_500, success_url=SUCCESS_URL)


async def failure(billing, error=PaymentProviderError):
    with pytest.raises(error) as caught:
        await checkout(billing)
    return caught.value


# --- the happy path ---------------------------------------------------------------------------


async def test_a_checkout_is_created_with_the_documented_request(billing, polar):
    await checkout(billing)

    (request,) = polar.requests
    assert (request.method, request.path, request.query) == ("POST", CHECKOUTS_PATH, "")
    assert request.header("authorization") == f"Bearer {FAKE_ACCESS_TOKEN}"
    assert request.header("content-type") == "application/json"
    assert request.json() == {
        "products": [PRODUCT_500],
        "success_url": SUCCESS_URL,
        "external_customer_id": USER,
        "metadata": {"user_id": USER, "pack_id": "pack_500"},
    }


async def test_the_checkout_returned_is_the_one_polar_opened(billing, polar):
    result = await checkout(billing)

    opened = polar.checkout(result.id)
    assert result.url == opened["url"]
    assert opened["status"] == "open"
    assert opened["metadata"] == {"user_id": USER, "pack_id": "pack_500"}


async def test_every_call_opens_a_new_session(billing, polar):
    first, second = await checkout(billing), await checkout(billing)

    assert first.id != second.id
    assert len(polar.checkouts) == 2


def test_the_production_defaults_follow_the_timeout_table():
    assert (CHECKOUT_TIMEOUT.connect, CHECKOUT_TIMEOUT.read) == (5, 15)
    assert (CHECKOUT_TIMEOUT.write, CHECKOUT_TIMEOUT.pool) == (10, 5)
    assert (CHECKOUT_RETRY.attempts, CHECKOUT_RETRY.budget) == (3, 20)


# --- retried faults ---------------------------------------------------------------------------


async def test_a_429_is_retried_after_its_retry_after(billing, polar):
    polar.script(rate_limited("0"))

    assert await checkout(billing)
    assert len(polar.requests) == 2


async def test_a_429_with_an_http_date_in_the_past_is_retried_at_once(billing, polar, clock):
    polar.script(rate_limited(http_date(clock.now() - timedelta(seconds=5))))

    assert await checkout(billing)
    assert len(polar.requests) == 2


async def test_a_retry_after_beyond_the_budget_surfaces_at_once_with_the_wait(
    billing, polar, clock
):
    polar.script(rate_limited(http_date(clock.now() + timedelta(seconds=30))))

    error = await failure(billing)

    assert error.retry_after == 30
    assert len(polar.requests) == 1


@pytest.mark.parametrize("fault", [server_error(500), server_error(503), html_bad_gateway()])
async def test_a_5xx_then_a_201_succeeds(billing, polar, fault):
    polar.script(fault)

    assert await checkout(billing)
    assert len(polar.requests) == 2


@pytest.mark.parametrize("fault", [connection_closed(), truncated(12)])
async def test_a_dropped_connection_is_retried(billing, polar, fault):
    polar.script(fault)

    assert await checkout(billing)
    assert len(polar.requests) == 2


async def test_a_persistent_5xx_fails_after_the_configured_attempts(billing, polar):
    polar.script(*[server_error(502)] * 5)

    error = await failure(billing)

    assert "HTTP 502" in str(error)
    assert len(polar.requests) == FAST_ATTEMPTS


async def test_a_slow_response_times_out_and_is_retried(billing, polar):
    polar.script(slow(2), slow(2))
    started = time.monotonic()

    assert await checkout(billing)
    assert len(polar.requests) == 3
    assert time.monotonic() - started < 1.5


async def test_a_slow_response_on_every_attempt_is_a_timeout_error(make_billing, polar):
    polar.script(slow(2))
    billing = make_billing(retry=RetryPolicy(attempts=1, budget=5))

    error = await failure(billing)

    assert "timed out (ReadTimeout)" in str(error)


async def test_the_budget_cuts_the_whole_call_short(make_billing, polar):
    polar.script(slow(3))
    billing = make_billing(retry=RetryPolicy(attempts=3, budget=0.15))
    started = time.monotonic()

    error = await failure(billing)

    assert "no answer within 0.15 s" in str(error)
    assert time.monotonic() - started < 0.5


async def test_a_refused_connection_is_a_provider_error(make_billing):
    async with provider_client(f"http://127.0.0.1:{closed_port()}", CHECKOUT_TIMEOUT) as client:
        error = await failure(make_billing(client=client))

    assert "transport error (ConnectError)" in str(error)


# --- bad responses ----------------------------------------------------------------------------


async def test_malformed_json_is_retried_once(billing, polar):
    polar.script(malformed_json())

    assert await checkout(billing)
    assert len(polar.requests) == 2


async def test_malformed_json_twice_is_a_provider_error(billing, polar):
    polar.script(malformed_json(), not_json())

    error = await failure(billing)

    assert "expected JSON" in str(error)
    assert len(polar.requests) == 2


async def test_a_redirect_is_never_followed(billing, polar):
    polar.script(redirect(), redirect())

    error = await failure(billing)

    assert "HTTP 307" in str(error)
    assert {r.path for r in polar.requests} == {CHECKOUTS_PATH}


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"id": "c1"}', b'{"url": "https://buy.polar.sh/x"}', b'{"id": "c1", "url": 7}'],
)
async def test_a_201_without_id_and_url_is_a_provider_error(billing, polar, body):
    polar.script(*[Reply(body=body)] * 2)

    error = await failure(billing)

    assert "checkout" in str(error)


# --- rejected requests ------------------------------------------------------------------------


async def test_a_422_is_rejected_without_a_retry(billing, polar):
    polar.script(unprocessable("products"))

    error = await failure(billing, PaymentRejectedError)

    assert error.status == 422
    assert len(polar.requests) == 1


async def test_an_unknown_product_is_a_422_from_polar(make_billing, polar):
    catalogue = PackCatalogue(products=(("pack_500", "not-a-polar-product"),))  # type: ignore[arg-type]

    error = await failure(make_billing(catalogue=catalogue), PaymentRejectedError)

    assert error.status == 422


async def test_a_wrong_access_token_is_a_401_without_a_retry(make_billing, polar):
    error = await failure(make_billing(access_token="polar_oat_wrong"), PaymentRejectedError)

    assert error.status == 401
    assert len(polar.requests) == 1
    assert "polar_oat_wrong" not in str(error)


async def test_a_scripted_401_is_rejected(billing, polar):
    polar.script(unauthorized())

    assert (await failure(billing, PaymentRejectedError)).status == 401


async def test_a_pack_without_a_product_is_unavailable_and_polar_is_not_called(make_billing, polar):
    billing = make_billing(catalogue=PackCatalogue())

    with pytest.raises(CheckoutUnavailableError):
        await checkout(billing)
    assert polar.requests == ()


async def test_without_a_provider_checkout_is_unavailable():
    with pytest.raises(CheckoutUnavailableError):
        await checkout(UnconfiguredBillingProvider())


def test_the_access_token_is_not_in_the_repr(billing):
    assert FAKE_ACCESS_TOKEN not in repr(billing)
