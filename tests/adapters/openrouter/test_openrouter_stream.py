"""OpenAICompatChatModel.stream against the fake OpenRouter over SSE (PROVIDERS §1.5)."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import aclosing

import pytest

from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderRateLimitedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from mynth_core.generation.ports import Completion, TextDelta, Usage
from providers.openrouter import (
    PRIMARY,
    Reply,
    bad_gateway,
    error_only,
    finish_error,
    malformed,
    mid_stream_error,
    ok,
    truncated,
)

ANSWER = "You said: Tell me about the lighthouse keeper who paints storms"
WORDS = ("The ", "lamp ", "flickers ", "over ", "the ", "sea.")


async def eventually(condition, seconds=2.0):
    """Wait for the fake's thread to record something; fail after `seconds`."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never became true")


async def test_a_stream_yields_the_deltas_then_one_completion(
    model, openrouter, a_request, stream_all
):
    pieces, completion = await stream_all(model, a_request())

    (served,) = openrouter.served
    assert pieces == [*(word + " " for word in ANSWER.split()[:-1]), "storms"]
    assert completion.text == ANSWER
    assert (completion.model, completion.provider, completion.finish_reason) == (
        PRIMARY,
        "openrouter",
        "stop",
    )
    assert completion.usage == Usage(prompt_tokens=14, completion_tokens=11)
    assert completion.cost_usd == pytest.approx(36e-6)
    assert completion.generation_id == served.generation_id
    assert completion.attempts == 1


async def test_comment_lines_are_never_content(model, openrouter, a_request, stream_all):
    openrouter.script(ok(chunks=WORDS, comments_for=0.1))

    pieces, completion = await stream_all(model, a_request())

    assert pieces == list(WORDS)
    assert completion.text == "The lamp flickers over the sea."


@pytest.mark.parametrize("usage_chunk", ["empty", "repeated", "inline"])
async def test_the_usage_chunk_is_read_in_each_of_its_shapes(
    model, openrouter, a_request, stream_all, usage_chunk
):
    openrouter.script(ok(chunks=WORDS, usage_chunk=usage_chunk))

    _, completion = await stream_all(model, a_request())

    assert completion.usage == Usage(prompt_tokens=14, completion_tokens=6)
    assert completion.finish_reason == "stop"


async def test_a_stream_without_usage_completes_with_none(model, openrouter, a_request, stream_all):
    openrouter.script(ok(chunks=WORDS, usage_chunk="none"))

    _, completion = await stream_all(model, a_request())

    assert (completion.usage, completion.cost_usd) == (None, None)


async def test_the_end_of_the_body_after_finish_and_usage_is_accepted_without_done(
    model, openrouter, a_request, stream_all
):
    openrouter.script(ok(chunks=WORDS, done=False))

    pieces, completion = await stream_all(model, a_request())

    assert "".join(pieces) == completion.text == "The lamp flickers over the sea."


@pytest.mark.parametrize("code", [502, "server_error"])
@pytest.mark.parametrize("done", [True, False], ids=["with-done", "without-done"])
async def test_a_mid_stream_error_is_raised_after_the_partial_text(
    model, openrouter, a_request, stream_until, code, done
):
    openrouter.script(ok(chunks=WORDS, error_after=2, error_code=code, done_after_error=done))

    pieces, _ = await stream_until(model, a_request(), ProviderUnavailableError)

    assert pieces == ["The ", "lamp "]
    assert len(openrouter.requests) == 1


async def test_an_error_event_before_any_content_is_retried(
    model, openrouter, a_request, stream_all
):
    openrouter.script(mid_stream_error(after=0, code=429))

    pieces, completion = await stream_all(model, a_request())

    assert "".join(pieces) == ANSWER
    assert completion.attempts == 2


async def test_a_finish_reason_error_after_content_fails_the_stream(
    model, openrouter, a_request, stream_until
):
    openrouter.script(finish_error(502, partial="The lamp"))

    pieces, _ = await stream_until(model, a_request(), ProviderUnavailableError)

    assert pieces == ["The ", "lamp"]


async def test_a_200_error_only_body_to_a_stream_request_is_retried_then_raised(
    model, openrouter, a_request, stream_until
):
    openrouter.script(error_only(502), error_only(502), error_only(502))

    pieces, _ = await stream_until(model, a_request(), ProviderUnavailableError)

    assert pieces == []
    assert len(openrouter.requests) == 3


async def test_a_whole_json_answer_to_a_stream_request_is_one_delta(
    model, openrouter, a_request, stream_all
):
    document = {
        "id": "gen-json",
        "model": PRIMARY,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "Hi."}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    openrouter.script(Reply(body=json.dumps(document).encode()))

    pieces, completion = await stream_all(model, a_request())

    assert pieces == ["Hi."]
    assert (completion.text, completion.generation_id) == ("Hi.", "gen-json")


@pytest.mark.parametrize("abrupt", [False, True], ids=["body-ended", "connection-dropped"])
async def test_a_stream_truncated_before_any_content_is_retried_then_raised(
    model, openrouter, a_request, stream_until, abrupt
):
    openrouter.script(*[truncated(after=0, abrupt=abrupt)] * 3)

    pieces, _ = await stream_until(model, a_request(), ProviderUnavailableError)

    assert pieces == []
    assert len(openrouter.requests) == 3


@pytest.mark.parametrize("abrupt", [False, True], ids=["body-ended", "connection-dropped"])
async def test_a_stream_truncated_after_content_is_raised_without_a_retry(
    model, openrouter, a_request, stream_until, abrupt
):
    openrouter.script(Reply(chunks=WORDS, truncate_after=3, abrupt=abrupt))

    pieces, error = await stream_until(model, a_request(), ProviderUnavailableError)

    assert pieces == ["The ", "lamp ", "flickers "]
    assert len(openrouter.requests) == 1
    if not abrupt:
        assert "incomplete stream" in str(error)


async def test_a_malformed_event_before_content_is_retried_once(
    model, openrouter, a_request, stream_until
):
    openrouter.script(malformed(at=0), malformed(at=0), malformed(at=0))

    await stream_until(model, a_request(), ProviderBadResponseError)

    assert len(openrouter.requests) == 2


async def test_a_malformed_event_after_content_fails_the_stream(
    model, openrouter, a_request, stream_until
):
    openrouter.script(Reply(chunks=WORDS, malformed_at=2))

    pieces, _ = await stream_until(model, a_request(), ProviderBadResponseError)

    assert pieces == ["The ", "lamp "]
    assert len(openrouter.requests) == 1


async def test_a_status_fault_before_the_stream_is_retried(
    model, openrouter, a_request, stream_all, sleeps
):
    openrouter.script(bad_gateway())

    _, completion = await stream_all(model, a_request())

    assert completion.attempts == 2
    assert len(sleeps.waits) == 1


async def test_a_content_filter_in_a_stream_is_refused(model, openrouter, a_request, stream_until):
    openrouter.script(ok(chunks=WORDS[:2], finish_reason="content_filter"))

    pieces, _ = await stream_until(model, a_request(), ContentRefusedError)

    assert pieces == ["The ", "lamp "]


async def test_a_length_finish_in_a_stream_is_returned_with_its_reason(
    model, openrouter, a_request, stream_all
):
    openrouter.script(ok(chunks=WORDS[:2], finish_reason="length"))

    _, completion = await stream_all(model, a_request())

    assert (completion.text, completion.finish_reason) == ("The lamp ", "length")


async def test_comments_alone_do_not_beat_the_first_token_timeout(
    model, openrouter, a_request, stream_until
):
    openrouter.script(*[ok(comments_for=2.0)] * 3)
    started = time.monotonic()

    pieces, _ = await stream_until(model, a_request(first_token_timeout=0.2), ProviderTimeoutError)

    assert pieces == []
    assert len(openrouter.requests) == 3  # a stall before any output is retried
    assert time.monotonic() - started < 1.5


async def test_the_overall_timeout_bounds_the_whole_stream(
    model, openrouter, a_request, stream_until
):
    openrouter.script(ok(chunks=WORDS * 5, chunk_delay=0.05))
    started = time.monotonic()

    pieces, _ = await stream_until(model, a_request(timeout=0.3), ProviderTimeoutError)

    assert 0 < len(pieces) < len(WORDS * 5)
    assert time.monotonic() - started < 1.0


async def test_a_gap_longer_than_the_read_timeout_fails_the_stream(
    model, openrouter, a_request, stream_until
):
    openrouter.script(ok(chunks=WORDS, gap=1.0))

    pieces, _ = await stream_until(model, a_request(), ProviderTimeoutError)

    assert pieces == ["The "]
    assert len(openrouter.requests) == 1


async def test_closing_the_stream_early_closes_the_upstream_connection(
    model, openrouter, a_request
):
    openrouter.script(ok(chunks=WORDS * 10, chunk_delay=0.02))

    async with aclosing(model.stream(a_request())) as stream:
        first = await anext(stream)
    assert first == TextDelta("The ")

    (served,) = openrouter.served
    await eventually(lambda: served.disconnected)
    assert not served.completed


async def test_the_fake_records_when_its_first_content_event_went_out(
    model, openrouter, a_request, stream_all
):
    openrouter.script(ok(chunks=WORDS, comments_for=0.1))

    await stream_all(model, a_request())

    (served,) = openrouter.served
    assert served.request.at <= served.first_byte_at < served.first_content_at
    assert served.first_content_at - served.first_byte_at >= 0.1
    assert served.stream
    await eventually(lambda: served.completed)  # the fake notes it after its last write


async def test_the_connection_is_reused_after_a_complete_stream(
    model, openrouter, a_request, stream_all
):
    await stream_all(model, a_request())
    await stream_all(model, a_request())

    first, second = openrouter.served
    assert first.request.peer == second.request.peer
    assert not first.disconnected


async def test_the_completion_is_the_last_item(model, a_request):
    items = [item async for item in model.stream(a_request())]

    assert isinstance(items[-1], Completion)
    assert all(isinstance(item, TextDelta) for item in items[:-1])


async def test_a_rate_limited_stream_carries_the_wait(model, openrouter, a_request, stream_until):
    openrouter.script(*[Reply(status=429, body=b"{}", headers=(("retry-after", "2"),))] * 3)

    _, error = await stream_until(model, a_request(), ProviderRateLimitedError)

    assert error.retry_after == 2
