"""Runware's failures, translated into core errors with the right retries (§2.7, §2.9, §12)."""

from __future__ import annotations

import logging
import time

import attrs
import pytest

from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from mynth_core.images.registry import ImageRegistry
from providers.runware import (
    Reply,
    connection_closed,
    fault,
    generic_error,
    html_bad_gateway,
    insufficient_credits,
    invalid,
    malformed,
    no_capacity,
    no_permission,
    other_task,
    queue_full,
    queue_timeout,
    refused,
    slow,
)

SCHNELL = ImageRegistry().get("black-forest-labs/flux-schnell")

FAULTS = [
    # (fault, core error, status on the error, calls the fake sees, billed inferences)
    pytest.param(queue_full(), ProviderRateLimitedError, None, 3, 0, id="429"),
    pytest.param(no_capacity(), ProviderUnavailableError, None, 3, 0, id="503"),
    pytest.param(queue_timeout(), ProviderTimeoutError, None, 3, 0, id="504"),
    pytest.param(connection_closed(), ProviderUnavailableError, None, 3, 0, id="no-response"),
    pytest.param(invalid("width"), ProviderRejectedError, 400, 1, 0, id="400"),
    pytest.param(fault(404, "modelNotFound"), ProviderRejectedError, 404, 1, 0, id="404"),
    pytest.param(fault(401, "invalidApiKey"), ProviderMisconfiguredError, 401, 1, 0, id="401"),
    pytest.param(insufficient_credits(), ProviderMisconfiguredError, 402, 1, 0, id="402"),
    pytest.param(no_permission(), ProviderMisconfiguredError, 403, 1, 0, id="403"),
    pytest.param(refused(), ContentRefusedError, None, 1, 0, id="400-moderation"),
    pytest.param(fault(403, "nsfwContentDetected"), ContentRefusedError, None, 1, 0, id="403-nsfw"),
    pytest.param(
        fault(400, "insufficientCredits"), ProviderMisconfiguredError, 400, 1, 0, id="400-credits"
    ),
    pytest.param(
        fault(400, "providerRateLimitExceeded"), ProviderRateLimitedError, None, 1, 0, id="400-rl"
    ),
    pytest.param(html_bad_gateway(), ProviderUnavailableError, None, 1, 0, id="502-html"),
    pytest.param(fault(500, "inferenceError"), ProviderUnavailableError, None, 1, 0, id="500"),
    pytest.param(Reply(status=408), ProviderUnavailableError, None, 1, 0, id="408"),
    pytest.param(Reply(status=302), ProviderBadResponseError, None, 1, 0, id="302"),
    pytest.param(malformed(), ProviderBadResponseError, None, 1, 1, id="malformed-json"),
    pytest.param(other_task(), ProviderBadResponseError, None, 1, 1, id="other-task"),
    pytest.param(
        Reply(body=b'{"data": []}'), ProviderBadResponseError, None, 1, 0, id="empty-data"
    ),
    pytest.param(Reply(body=b"[1, 2]"), ProviderBadResponseError, None, 1, 0, id="not-an-object"),
    pytest.param(
        generic_error("invalidPositivePrompt"), ProviderRejectedError, None, 1, 0, id="200-generic"
    ),
    pytest.param(
        generic_error("invalidModel", status=400),
        ProviderRejectedError,
        400,
        1,
        0,
        id="400-generic",
    ),
    pytest.param(
        generic_error("timeoutProvider"), ProviderTimeoutError, None, 3, 0, id="200-timeout"
    ),
    pytest.param(
        generic_error("noAvailableServer"), ProviderUnavailableError, None, 3, 0, id="200-transient"
    ),
    pytest.param(
        generic_error("whoKnowsWhat"), ProviderBadResponseError, None, 1, 0, id="200-unknown-code"
    ),
]


@pytest.mark.parametrize(("reply", "error", "status", "calls", "billed"), FAULTS)
async def test_every_fault_becomes_its_core_error_after_the_right_number_of_calls(
    generator, runware, a_request, reply, error, status, calls, billed
):
    runware.script(*[reply] * 3)
    request = a_request()

    with pytest.raises(error) as caught:
        await generator.generate(request)

    assert type(caught.value) is error
    assert getattr(caught.value, "status", None) == status
    assert len(runware.inference_requests) == calls
    assert {r.json()[0]["taskUUID"] for r in runware.inference_requests} == {request.task_uuid}
    assert sum(runware.inferences.values()) == billed
    assert runware.image_requests == ()


async def test_retries_wait_one_second_then_two(generator, runware, a_request, sleeps):
    runware.script(no_capacity(), no_capacity(), no_capacity())

    with pytest.raises(ProviderUnavailableError):
        await generator.generate(a_request())

    assert sleeps.waits == [1.0, 2.0]


async def test_transient_faults_then_an_answer_bill_once(generator, runware, a_request, sleeps):
    runware.script(queue_full(), connection_closed())
    request = a_request()

    image = await generator.generate(request)

    assert image.width == 512
    assert len(runware.inference_requests) == 3
    assert runware.inferences == {request.task_uuid: 1}
    assert sleeps.waits == [1.0, 2.0]


async def test_a_retry_after_up_to_ten_seconds_is_honoured(generator, runware, a_request, sleeps):
    runware.script(queue_full(retry_after="3"))

    await generator.generate(a_request())

    assert sleeps.waits == [3.0]


async def test_a_longer_retry_after_surfaces_at_once_with_the_wait(
    generator, runware, a_request, sleeps
):
    runware.script(queue_full(retry_after="30"))

    with pytest.raises(ProviderRateLimitedError) as caught:
        await generator.generate(a_request())

    assert caught.value.retry_after == 30
    assert sleeps.waits == []
    assert len(runware.inference_requests) == 1


@pytest.mark.parametrize("reply", [invalid(), insufficient_credits(), no_permission()])
async def test_4xx_answers_are_never_retried(generator, runware, a_request, sleeps, reply):
    runware.script(reply)

    with pytest.raises((ProviderRejectedError, ProviderMisconfiguredError)):
        await generator.generate(a_request())

    assert sleeps.waits == []


async def test_after_a_read_timeout_only_one_more_attempt_is_made(
    generator, runware, a_request, sleeps
):
    runware.script(slow(1.0), no_capacity(), no_capacity())
    request = a_request()

    with pytest.raises(ProviderUnavailableError):
        await generator.generate(request)

    assert len(runware.inference_requests) == 2
    assert sleeps.waits == [1.0]


async def test_two_read_timeouts_end_as_a_timeout_with_the_same_task_uuid(
    generator, runware, a_request
):
    runware.script(slow(1.0), slow(1.0))
    request = a_request()

    with pytest.raises(ProviderTimeoutError):
        await generator.generate(request)

    assert len(runware.inference_requests) == 2
    assert runware.inferences == {request.task_uuid: 2}  # the one re-run a timeout may cost


async def test_a_read_timeout_then_an_answer_succeeds(generator, runware, a_request):
    runware.script(slow(1.0))

    image = await generator.generate(a_request())

    assert image.width == 512
    assert len(runware.inference_requests) == 2


async def test_a_read_timeout_after_other_faults_still_gets_its_retry(
    generator, runware, a_request
):
    runware.script(no_capacity(), slow(1.0))

    await generator.generate(a_request())

    assert len(runware.inference_requests) == 3


async def test_the_model_timeout_cuts_the_whole_call(make_generator, http, runware, a_request):
    runware.script(slow(1.0))
    generator = make_generator()
    quick = attrs.evolve(SCHNELL, timeout=0.15)
    started = time.monotonic()

    with pytest.raises(ProviderTimeoutError):
        await generator.generate(a_request(quick))

    assert time.monotonic() - started < 0.6
    assert len(runware.inference_requests) == 1


async def test_a_wrong_key_is_refused_by_the_fake_as_misconfigured(
    make_generator, runware, a_request
):
    generator = make_generator(api_key="rw-not-the-key")

    with pytest.raises(ProviderMisconfiguredError) as caught:
        await generator.generate(a_request())

    assert caught.value.status == 401
    assert "invalidApiKey" in str(caught.value)


async def test_the_api_key_never_reaches_the_logs(generator, runware, a_request, caplog):
    caplog.set_level(logging.DEBUG)
    runware.script(no_capacity(), invalid())

    with pytest.raises(ProviderRejectedError):
        await generator.generate(a_request())

    assert runware.api_key not in caplog.text
    assert "Bearer" not in caplog.text


async def test_a_refused_prompt_names_the_provider_code(generator, runware, a_request):
    runware.script(refused())

    with pytest.raises(ContentRefusedError) as caught:
        await generator.generate(a_request())

    assert "contentModerationFlagged" in str(caught.value)
