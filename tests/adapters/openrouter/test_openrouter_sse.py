"""The SSE framing and chunk accounting of a streamed chat completion (PROVIDERS §1.5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from mynth_adapters.openrouter.sse import StreamState, sse_data
from mynth_adapters.openrouter.wire import envelope_error
from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from mynth_core.generation.ports import Usage

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def events(*lines: str) -> list[str]:
    async def source():
        for line in lines:
            yield line

    return [data async for data in sse_data(source())]


def state() -> StreamState:
    def error(document):
        return envelope_error(document, provider="openrouter", headers=httpx.Headers(), now=NOW)

    return StreamState(provider="openrouter", error=error)


def chunk(*choices, **fields) -> str:
    return json.dumps({"id": "gen-1", "model": "m/served", "choices": list(choices), **fields})


def content(text, finish=None) -> dict:
    return {"index": 0, "delta": {"content": text}, "finish_reason": finish}


# --- framing ----------------------------------------------------------------------------------


async def test_comment_lines_are_skipped_wherever_they_appear():
    assert await events(": OPENROUTER PROCESSING", "", "data: a", ": ping", "", ":", "") == ["a"]


async def test_several_data_lines_of_one_event_join_with_a_newline():
    assert await events("data: {", 'data:  "a": 1}', "") == ['{\n "a": 1}']


async def test_one_space_after_the_colon_is_stripped_and_no_more():
    assert await events("data:x", "", "data:  y", "", "data", "") == ["x", " y"]


async def test_crlf_lines_and_other_fields_are_tolerated():
    lines = ("event: message\r", "id: 7\r", "retry: 100\r", "data: a\r", "\r")
    assert await events(*lines) == ["a"]


async def test_blank_lines_without_data_dispatch_nothing():
    assert await events("", "", "id: 1", "") == []


async def test_an_event_cut_off_by_the_end_of_the_body_is_dropped():
    assert await events("data: a", "", 'data: {"choices": [') == ["a"]


async def test_a_final_done_without_its_blank_line_still_ends_the_stream():
    assert await events("data: a", "", "data: [DONE]") == ["a", "[DONE]"]


# --- chunks -----------------------------------------------------------------------------------


def test_content_pieces_accumulate_and_null_or_empty_content_is_nothing():
    s = state()
    assert s.feed(chunk(content("The "))) == "The "
    assert s.feed(chunk(content(None))) == ""
    assert s.feed(chunk({"index": 0, "delta": {"reasoning": "hmm"}})) == ""
    assert s.feed(chunk(content("lamp.", "stop"))) == "lamp."
    assert (s.text, s.finish_reason, s.model, s.generation_id) == (
        "The lamp.",
        "stop",
        "m/served",
        "gen-1",
    )


@pytest.mark.parametrize(
    "usage_chunk",
    [
        chunk(usage={"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.5}),
        chunk(
            {"index": 0, "delta": {}, "finish_reason": "stop"},
            usage={"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.5},
        ),
    ],
    ids=["choices-empty", "choice-repeated"],
)
def test_the_usage_chunk_is_read_with_or_without_a_choice(usage_chunk):
    s = state()
    s.feed(chunk(content("Hi", "stop")))
    s.feed(usage_chunk)
    assert (s.usage, s.cost_usd, s.text, s.finish_reason) == (Usage(3, 2), 0.5, "Hi", "stop")


def test_done_ends_the_stream():
    s = state()
    assert s.feed("[DONE]") == ""
    assert s.done


def test_the_end_of_the_body_after_a_finish_reason_and_usage_is_accepted():
    s = state()
    s.feed(chunk(content("Hi", "stop"), usage={"prompt_tokens": 1, "completion_tokens": 1}))
    s.end_of_stream()
    assert s.done


@pytest.mark.parametrize("fed", [[], [chunk(content("Hi"))], [chunk(content("Hi", "stop"))]])
def test_the_end_of_the_body_before_finish_and_usage_is_an_incomplete_stream(fed):
    s = state()
    for data in fed:
        s.feed(data)
    with pytest.raises(ProviderUnavailableError, match="incomplete stream"):
        s.end_of_stream()


@pytest.mark.parametrize("data", ['{"id": "gen-1", "choices": [{"delta": {"cont', "[1, 2]", "nope"])
def test_a_data_line_that_is_not_a_json_object_is_a_bad_response(data):
    with pytest.raises(ProviderBadResponseError):
        state().feed(data)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (502, ProviderUnavailableError),
        ("server_error", ProviderUnavailableError),
        ("502", ProviderUnavailableError),
        (429, ProviderRateLimitedError),
        (503, ProviderRateLimitedError),
        (400, ProviderRejectedError),
        (402, ProviderMisconfiguredError),
        ("mystery", ProviderBadResponseError),
        (None, ProviderBadResponseError),
    ],
)
def test_an_error_event_is_terminal_and_judged_by_its_code(code, error):
    s = state()
    s.feed(chunk(content("Partial ")))
    event = chunk(content("", "error"), error={"code": code, "message": "Provider disconnected"})
    with pytest.raises(error):
        s.feed(event)
    assert (s.text, s.done) == ("Partial ", True)
    assert (
        type(envelope_error({"code": code}, provider="p", headers=httpx.Headers(), now=NOW))
        is error
    )


def test_an_error_type_stands_in_for_a_missing_code():
    error = {"message": "busy", "metadata": {"error_type": "rate_limit_exceeded"}}
    with pytest.raises(ProviderRateLimitedError):
        state().feed(chunk(error=error))


def test_a_finish_reason_error_without_an_error_object_is_a_bad_response():
    with pytest.raises(ProviderBadResponseError):
        state().feed(chunk(content("", "error")))


def test_a_content_filter_finish_is_a_refusal():
    with pytest.raises(ContentRefusedError):
        state().feed(chunk(content("", "content_filter")))


@pytest.mark.parametrize(
    "error",
    [
        {"code": 403, "message": "flagged", "metadata": {"reasons": ["violence"]}},
        {"code": 403, "message": "flagged", "metadata": {"flagged_input": "…"}},
        {"code": 400, "message": "no", "metadata": {"error_type": "content_policy_violation"}},
        {"code": 502, "message": "no", "metadata": {"error_type": "refusal"}},
    ],
)
def test_moderation_errors_are_refusals(error):
    with pytest.raises(ContentRefusedError):
        state().feed(chunk(error=error))


def test_a_forbidden_error_without_moderation_details_is_misconfiguration():
    with pytest.raises(ProviderMisconfiguredError):
        state().feed(chunk(error={"code": 403, "message": "Key disabled"}))
