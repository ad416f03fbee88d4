"""OpenAICompatChatModel.complete against the fake OpenRouter (PROVIDERS §1.4, §1.6)."""

from __future__ import annotations

import json

import pytest

from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
)
from mynth_core.generation.ports import Usage
from mynth_core.personas.prompts import PERSONA_SCHEMA
from providers.openrouter import (
    FALLBACK,
    PRIMARY,
    Reply,
    error_only,
    finish_error,
    invalid_json,
    ok,
)


async def test_a_completion_carries_the_text_usage_cost_and_generation_id(
    model, openrouter, a_request
):
    completion = await model.complete(a_request())

    (served,) = openrouter.served
    assert completion.text == "You said: Tell me about the lighthouse keeper who paints storms"
    assert (completion.model, completion.provider) == (PRIMARY, "openrouter")
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(prompt_tokens=14, completion_tokens=11)
    assert completion.cost_usd == pytest.approx(36e-6)
    assert completion.generation_id == served.generation_id
    assert completion.generation_id.startswith("gen-")
    assert completion.attempts == 1


async def test_a_generic_server_is_named_openai_compatible(make_model, a_request):
    completion = await make_model(is_openrouter=False).complete(a_request())

    assert completion.provider == "openai_compatible"


async def test_the_default_answer_to_a_schema_is_json_for_that_schema(model, openrouter, a_request):
    completion = await model.complete(a_request(schema=PERSONA_SCHEMA))

    persona = json.loads(completion.text)
    assert set(persona) == set(PERSONA_SCHEMA.schema["required"])
    assert persona["gender"] == "male"


async def test_invalid_json_for_a_schema_is_returned_for_the_core_to_judge(
    model, openrouter, a_request
):
    openrouter.script(invalid_json())

    completion = await model.complete(a_request(schema=PERSONA_SCHEMA))

    assert completion.text == '{"name": "Ada Varga", "age": '
    assert completion.attempts == 1


async def test_a_null_content_is_empty_text(model, openrouter, a_request):
    openrouter.script(Reply(null_content=True))

    completion = await model.complete(a_request())

    assert completion.text == ""
    assert completion.finish_reason == "stop"


async def test_a_length_finish_is_returned_with_its_reason(model, openrouter, a_request):
    openrouter.script(ok("The lamp flick", finish_reason="length"))

    completion = await model.complete(a_request())

    assert (completion.text, completion.finish_reason) == ("The lamp flick", "length")


async def test_a_content_filter_finish_is_refused_without_a_retry(model, openrouter, a_request):
    openrouter.script(ok("", finish_reason="content_filter"))

    with pytest.raises(ContentRefusedError):
        await model.complete(a_request())
    assert len(openrouter.requests) == 1


async def test_a_200_body_that_is_only_an_error_is_retried_then_raised(
    model, openrouter, a_request, sleeps
):
    openrouter.script(error_only(502), error_only(502), error_only(502))

    with pytest.raises(ProviderUnavailableError, match="Provider returned error"):
        await model.complete(a_request())
    assert len(openrouter.requests) == 3
    assert len(sleeps.waits) == 2


async def test_a_200_error_body_is_judged_by_its_code(model, openrouter, a_request):
    openrouter.script(*[error_only(429, "Rate limit exceeded")] * 3)

    with pytest.raises(ProviderRateLimitedError):
        await model.complete(a_request())
    assert len(openrouter.requests) == 3


async def test_a_200_error_body_then_an_answer_succeeds_counting_both_calls(
    model, openrouter, a_request
):
    openrouter.script(error_only("server_error"))

    completion = await model.complete(a_request())

    assert completion.text.startswith("You said:")
    assert completion.attempts == 2


async def test_a_finish_reason_error_is_retried_by_its_code(model, openrouter, a_request):
    openrouter.script(finish_error(502), finish_error(502), finish_error(502))

    with pytest.raises(ProviderUnavailableError):
        await model.complete(a_request())
    assert len(openrouter.requests) == 3


async def test_a_2xx_body_that_is_not_json_is_a_bad_response_retried_once(
    model, openrouter, a_request
):
    openrouter.script(*[Reply(body=b"OK", content_type="text/plain")] * 3)

    with pytest.raises(ProviderBadResponseError):
        await model.complete(a_request())
    assert len(openrouter.requests) == 2


async def test_a_json_body_without_choices_is_a_bad_response(model, openrouter, a_request):
    openrouter.script(*[Reply(body=b'{"id": "gen-1", "choices": []}')] * 2)

    with pytest.raises(ProviderBadResponseError, match="no choices"):
        await model.complete(a_request())


async def test_the_served_model_after_a_server_side_fallback_is_recorded(
    model, openrouter, a_request
):
    openrouter.fail_model(PRIMARY)

    completion = await model.complete(a_request())

    assert completion.model == FALLBACK
    assert completion.attempts == 1
    assert openrouter.requests[0].json()["models"] == [FALLBACK]
