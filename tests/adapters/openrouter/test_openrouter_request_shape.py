"""What OpenAICompatChatModel sends: headers and bodies for OpenRouter and other servers."""

from __future__ import annotations

import httpx
import pytest

from mynth_adapters.openrouter import CHAT_TIMEOUT, chat_client, is_openrouter_url
from mynth_core.errors import ProviderMisconfiguredError
from mynth_core.generation.ports import JsonSchema
from providers.openrouter import FALLBACK, PRIMARY

SCHEMA = JsonSchema(
    name="persona",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    },
)
MESSAGES = [
    {"role": "system", "content": "You are a helpful storyteller."},
    {"role": "user", "content": "Tell me about the lighthouse keeper who paints storms"},
]


async def test_a_call_sends_the_key_the_attribution_headers_and_json(
    make_model, openrouter, a_request
):
    model = make_model(referer="https://mynth.example", title="mynth")

    await model.complete(a_request())

    (sent,) = openrouter.requests
    assert (sent.method, sent.path) == ("POST", "/api/v1/chat/completions")
    assert sent.header("authorization") == f"Bearer {openrouter.api_key}"
    assert sent.header("content-type") == "application/json"
    assert sent.header("accept") == "application/json"
    assert sent.header("http-referer") == "https://mynth.example"
    assert sent.header("x-openrouter-title") == "mynth"


async def test_without_attribution_no_attribution_headers_are_sent(model, openrouter, a_request):
    await model.complete(a_request())

    (sent,) = openrouter.requests
    assert sent.header("http-referer") is None
    assert sent.header("x-openrouter-title") is None


async def test_an_openrouter_body_names_the_fallbacks_and_asks_for_usage(
    model, openrouter, a_request
):
    await model.complete(a_request(max_tokens=300, temperature=0.9, user="u_7f3a9c"))

    assert openrouter.requests[0].json() == {
        "model": PRIMARY,
        "models": [FALLBACK],
        "messages": MESSAGES,
        "max_tokens": 300,
        "temperature": 0.9,
        "user": "u_7f3a9c",
        "usage": {"include": True},
    }


async def test_a_single_model_sends_no_models_list(model, openrouter, a_request):
    await model.complete(a_request(models=(PRIMARY,)))

    assert "models" not in openrouter.requests[0].json()


async def test_a_schema_adds_the_response_format_and_requires_the_parameters(
    model, openrouter, a_request
):
    await model.complete(a_request(schema=SCHEMA))

    body = openrouter.requests[0].json()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "persona", "strict": True, "schema": dict(SCHEMA.schema)},
    }
    assert body["provider"] == {"require_parameters": True}


async def test_a_stream_asks_for_events_and_for_usage_in_the_stream(
    model, openrouter, a_request, stream_all
):
    await stream_all(model, a_request())

    (sent,) = openrouter.requests
    assert sent.header("accept") == "text/event-stream"
    body = sent.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_a_generic_server_gets_none_of_openrouters_extras(
    make_model, openrouter, a_request, stream_all
):
    model = make_model(is_openrouter=False)

    await model.complete(a_request(schema=SCHEMA))
    await stream_all(model, a_request(schema=SCHEMA))

    for sent in openrouter.requests:
        body = sent.json()
        assert not {"models", "provider", "plugins", "usage"} & set(body)
        assert body["model"] == PRIMARY
        assert body["response_format"]["json_schema"]["name"] == "persona"
    assert openrouter.requests[1].json()["stream_options"] == {"include_usage": True}


async def test_an_empty_key_sends_no_authorization(make_model, openrouter, a_request):
    model = make_model(api_key="", is_openrouter=False)

    with pytest.raises(ProviderMisconfiguredError) as caught:
        await model.complete(a_request())

    assert caught.value.status == 401
    assert "No cookie auth credentials found" in str(caught.value)
    (sent,) = openrouter.requests
    assert sent.header("authorization") is None


def test_the_key_is_kept_out_of_the_repr(model, openrouter):
    assert openrouter.api_key not in repr(model)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://openrouter.ai/api/v1", True),
        ("https://OpenRouter.ai/api/v1/", True),
        ("https://eu.openrouter.ai/api/v1", True),
        ("http://127.0.0.1:8080/v1", False),
        ("http://localhost:11434/v1", False),
        ("https://openrouter.ai.evil.example/api/v1", False),
        ("https://notopenrouter.ai/api/v1", False),
    ],
)
def test_only_openrouters_own_hosts_count_as_openrouter(url, expected):
    assert is_openrouter_url(url) is expected


async def test_the_chat_client_has_the_documented_timeouts_and_follows_no_redirects():
    async with chat_client("https://openrouter.ai/api/v1") as client:
        assert client.timeout == CHAT_TIMEOUT == httpx.Timeout(connect=5, read=60, write=10, pool=5)
        assert client.follow_redirects is False
        assert client.base_url == "https://openrouter.ai/api/v1/"
