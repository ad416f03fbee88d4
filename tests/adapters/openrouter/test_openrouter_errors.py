"""Status faults, their translation, retries, Retry-After and fallbacks (PROVIDERS §1.9-1.10)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from mynth_adapters.http_client import provider_client
from mynth_core.errors import (
    ContentRefusedError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from providers.clerk import closed_port
from providers.openrouter import (
    FALLBACK,
    PRIMARY,
    bad_gateway,
    connection_closed,
    html_bad_gateway,
    http_date,
    moderation,
    no_endpoints,
    ok,
    overloaded,
    payment_required,
    rate_limited,
    slow,
    status_fault,
)
from providers.webhooks import T0

FAULTS = [
    # (fault, core error, status on the error or None, requests the fake sees)
    pytest.param(rate_limited("1"), ProviderRateLimitedError, None, 3, id="429"),
    pytest.param(overloaded(), ProviderRateLimitedError, None, 3, id="503"),
    pytest.param(bad_gateway(), ProviderUnavailableError, None, 3, id="502"),
    pytest.param(html_bad_gateway(), ProviderUnavailableError, None, 3, id="502-html"),
    pytest.param(status_fault(500, "Internal"), ProviderUnavailableError, None, 3, id="500"),
    pytest.param(status_fault(504, "Gateway timeout"), ProviderUnavailableError, None, 3, id="504"),
    pytest.param(status_fault(408, "Timeout"), ProviderUnavailableError, None, 3, id="408"),
    pytest.param(connection_closed(), ProviderUnavailableError, None, 3, id="no-response"),
    pytest.param(no_endpoints(), ProviderRejectedError, 404, 1, id="404"),
    pytest.param(status_fault(400, "Context too long"), ProviderRejectedError, 400, 1, id="400"),
    pytest.param(status_fault(413, "Too large"), ProviderRejectedError, 413, 1, id="413"),
    pytest.param(status_fault(422, "Unprocessable"), ProviderRejectedError, 422, 1, id="422"),
    pytest.param(
        status_fault(401, "User not found."), ProviderMisconfiguredError, 401, 1, id="401"
    ),
    pytest.param(payment_required(), ProviderMisconfiguredError, 402, 1, id="402"),
    pytest.param(status_fault(403, "Key disabled"), ProviderMisconfiguredError, 403, 1, id="403"),
    pytest.param(moderation(), ContentRefusedError, None, 1, id="403-moderation"),
]


async def call(model, request, mode, stream_all):
    if mode == "complete":
        return await model.complete(request)
    return (await stream_all(model, request))[1]


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize(("fault", "error", "status", "requests"), FAULTS)
async def test_every_status_fault_is_translated_after_the_right_number_of_calls(
    model, openrouter, a_request, stream_all, mode, fault, error, status, requests
):
    openrouter.script(*[fault] * 3)

    with pytest.raises(error) as caught:
        await call(model, a_request(), mode, stream_all)

    assert type(caught.value) is error
    assert getattr(caught.value, "status", None) == status
    assert len(openrouter.requests) == requests
    assert all(r.json()["model"] == PRIMARY for r in openrouter.requests)


@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_a_transient_fault_then_an_answer_succeeds(
    model, openrouter, a_request, stream_all, mode
):
    openrouter.script(connection_closed(), html_bad_gateway())

    completion = await call(model, a_request(), mode, stream_all)

    assert completion.attempts == 3
    assert completion.text.startswith("You said:")


async def test_the_backoff_is_half_a_second_then_one_second_with_jitter(
    model, openrouter, a_request, sleeps
):
    openrouter.script(bad_gateway(), bad_gateway(), bad_gateway())

    with pytest.raises(ProviderUnavailableError):
        await model.complete(a_request())

    first, second = sleeps.waits
    assert 0.4 <= first <= 0.6
    assert 0.8 <= second <= 1.2


async def test_a_retry_after_in_seconds_is_waited(model, openrouter, a_request, sleeps):
    openrouter.script(rate_limited("3"))

    completion = await model.complete(a_request())

    assert sleeps.waits == [3.0]
    assert completion.attempts == 2


async def test_a_retry_after_as_an_http_date_is_waited(model, openrouter, a_request, sleeps):
    openrouter.script(rate_limited(http_date(T0 + timedelta(seconds=4))))

    await model.complete(a_request())

    assert sleeps.waits == [4.0]


async def test_a_503_retry_after_is_waited_too(model, openrouter, a_request, sleeps):
    openrouter.script(overloaded(retry_after="2"))

    await model.complete(a_request())

    assert sleeps.waits == [2.0]


async def test_a_retry_after_beyond_ten_seconds_gives_up_at_once_with_the_wait(
    model, openrouter, a_request, sleeps
):
    openrouter.script(rate_limited("30"))

    with pytest.raises(ProviderRateLimitedError) as caught:
        await model.complete(a_request())

    assert caught.value.retry_after == 30
    assert len(openrouter.requests) == 1
    assert sleeps.waits == []


async def test_the_last_rate_limit_carries_its_retry_after(model, openrouter, a_request):
    openrouter.script(*[rate_limited("2")] * 3)

    with pytest.raises(ProviderRateLimitedError) as caught:
        await model.complete(a_request())

    assert caught.value.retry_after == 2


async def test_a_402_without_retry_after_is_never_retried(model, openrouter, a_request, sleeps):
    openrouter.script(payment_required())

    with pytest.raises(ProviderMisconfiguredError):
        await model.complete(a_request())

    assert len(openrouter.requests) == 1
    assert sleeps.waits == []


async def test_a_402_with_retry_after_is_retried_after_the_wait(
    model, openrouter, a_request, sleeps
):
    openrouter.script(payment_required(retry_after="2"))

    completion = await model.complete(a_request())

    assert sleeps.waits == [2.0]
    assert completion.attempts == 2


async def test_a_closed_port_is_unavailable_after_the_retries(make_model, a_request, sleeps, http):
    async with provider_client(f"http://127.0.0.1:{closed_port()}/api/v1", http.timeout) as client:
        model = make_model(client=client)
        with pytest.raises(ProviderUnavailableError, match="ConnectError"):
            await model.complete(a_request())

    assert len(sleeps.waits) == 2


async def test_a_slow_answer_is_cut_by_the_calls_timeout(model, openrouter, a_request):
    openrouter.script(slow(2.0))
    started = time.monotonic()

    with pytest.raises(ProviderTimeoutError):
        await model.complete(a_request(timeout=0.2))

    assert time.monotonic() - started < 1.0


async def test_a_read_timeout_on_every_attempt_is_a_timeout(model, openrouter, a_request):
    openrouter.script(slow(1.0), slow(1.0), slow(1.0))

    with pytest.raises(ProviderTimeoutError, match="ReadTimeout"):
        await model.complete(a_request())

    assert len(openrouter.requests) == 3


# --- fallbacks --------------------------------------------------------------------------------


async def test_openrouter_falls_back_on_its_side_and_the_served_model_is_kept(
    model, openrouter, a_request, stream_all
):
    openrouter.fail_model(PRIMARY, bad_gateway())

    _, completion = await stream_all(model, a_request())

    assert completion.model == FALLBACK
    assert completion.attempts == 1
    (sent,) = openrouter.requests
    assert (sent.json()["model"], sent.json()["models"]) == (PRIMARY, [FALLBACK])


async def test_when_openrouter_runs_out_of_models_its_last_error_is_retried_then_raised(
    model, openrouter, a_request
):
    openrouter.fail_model(PRIMARY)
    openrouter.fail_model(FALLBACK, bad_gateway())

    with pytest.raises(ProviderUnavailableError):
        await model.complete(a_request())

    assert len(openrouter.requests) == 3


@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_a_generic_server_is_asked_for_the_fallback_model_itself(
    make_model, openrouter, a_request, stream_all, mode
):
    openrouter.fail_model(PRIMARY)  # 404: not retried, the next model is tried at once

    completion = await call(make_model(is_openrouter=False), a_request(), mode, stream_all)

    assert [r.json()["model"] for r in openrouter.requests] == [PRIMARY, FALLBACK]
    assert (completion.model, completion.attempts) == (FALLBACK, 2)
    assert completion.provider == "openai_compatible"


async def test_a_client_side_fallback_comes_after_the_models_own_retries(
    make_model, openrouter, a_request, sleeps
):
    openrouter.fail_model(PRIMARY, bad_gateway())

    completion = await make_model(is_openrouter=False).complete(a_request())

    assert [r.json()["model"] for r in openrouter.requests] == [PRIMARY] * 3 + [FALLBACK]
    assert completion.attempts == 4
    assert len(sleeps.waits) == 2


async def test_a_client_side_fallback_stops_at_a_misconfigured_key(
    make_model, openrouter, a_request
):
    openrouter.fail_model(PRIMARY, status_fault(401, "User not found."))

    with pytest.raises(ProviderMisconfiguredError):
        await make_model(is_openrouter=False).complete(a_request())

    assert len(openrouter.requests) == 1


async def test_when_every_model_fails_the_last_models_error_is_raised(
    make_model, openrouter, a_request
):
    openrouter.fail_model(PRIMARY, status_fault(400, "Context too long"))
    openrouter.fail_model(FALLBACK)

    with pytest.raises(ProviderRejectedError, match="No endpoints found for openai/gpt-4o-mini"):
        await make_model(is_openrouter=False).complete(a_request())

    assert len(openrouter.requests) == 2


async def test_no_fallback_is_tried_once_the_calls_time_is_up(make_model, openrouter, a_request):
    openrouter.fail_model(PRIMARY, slow(1.0))

    with pytest.raises(ProviderTimeoutError):
        await make_model(is_openrouter=False).complete(a_request(timeout=0.2))

    assert [r.json()["model"] for r in openrouter.requests] == [PRIMARY]


async def test_a_stream_is_not_retried_once_output_was_yielded(
    model, openrouter, a_request, stream_until
):
    openrouter.script(ok(chunks=("A ", "B "), error_after=1, error_code=503))

    pieces, _ = await stream_until(model, a_request(), ProviderRateLimitedError)

    assert pieces == ["A "]
    assert len(openrouter.requests) == 1
