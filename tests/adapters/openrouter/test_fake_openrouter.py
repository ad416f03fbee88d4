"""The fake OpenRouter itself: auth, the side endpoints, validation, schema answers."""

from __future__ import annotations

import json

import httpx
import pytest

from mynth_core.personas.prompts import PERSONA_CHANGES_SCHEMA, PERSONA_SCHEMA
from providers.openrouter import PRIMARY, example_for


@pytest.fixture
async def raw(openrouter):
    async with httpx.AsyncClient(base_url=openrouter.base_url) as client:
        yield client


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


BODY = {"model": PRIMARY, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "No cookie auth credentials found"), (bearer("sk-or-v1-wrong"), "User not found.")],
)
async def test_a_missing_or_unknown_key_gets_the_documented_401(raw, headers, message):
    response = await raw.post("/chat/completions", json=BODY, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": message}}


async def test_the_model_list_needs_no_key_and_prices_are_strings(raw):
    response = await raw.get("/models")

    assert response.status_code == 200
    first = response.json()["data"][0]
    assert first["id"] == PRIMARY
    assert isinstance(first["pricing"]["prompt"], str)
    assert "structured_outputs" in first["supported_parameters"]


async def test_the_key_endpoint_reports_the_usage_so_far(raw, openrouter):
    await raw.post("/chat/completions", json=BODY, headers=bearer(openrouter.api_key))

    response = await raw.get("/key", headers=bearer(openrouter.api_key))

    assert response.json()["data"]["usage"] > 0
    assert (await raw.get("/key")).status_code == 401


async def test_a_generation_can_be_looked_up_by_its_id(raw, openrouter):
    answer = await raw.post("/chat/completions", json=BODY, headers=bearer(openrouter.api_key))
    generation_id = answer.headers["x-generation-id"]
    assert answer.json()["id"] == generation_id

    found = await raw.get(f"/generation?id={generation_id}", headers=bearer(openrouter.api_key))
    missing = await raw.get("/generation?id=gen-0-nope", headers=bearer(openrouter.api_key))

    assert found.json()["data"]["model"] == PRIMARY
    assert found.json()["data"]["tokens_completion"] > 0
    assert missing.status_code == 404


async def test_an_unknown_provider_key_is_refused_like_openrouter(raw, openrouter):
    body = BODY | {"provider": {"require_parameters": True, "fast": True}}

    response = await raw.post("/chat/completions", json=body, headers=bearer(openrouter.api_key))

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Unrecognized key(s) in object: 'fast'"


async def test_every_request_is_recorded_with_its_arrival_time(raw, openrouter):
    await raw.get("/models?supported_parameters=structured_outputs")

    (request,) = openrouter.requests
    assert (request.method, request.path) == ("GET", "/api/v1/models")
    assert request.query == "supported_parameters=structured_outputs"
    assert request.at > 0


@pytest.mark.parametrize("schema", [PERSONA_SCHEMA, PERSONA_CHANGES_SCHEMA], ids=lambda s: s.name)
def test_the_default_schema_answer_fills_every_required_property(schema):
    value = example_for(schema.schema)

    assert set(value) == set(schema.schema["required"])
    assert all(isinstance(v, str) for k, v in value.items() if k != "extensions")
    assert value["extensions"] == [{"key": "favourite_colour", "value": "teal"}]


def test_the_default_schema_answer_takes_an_enums_first_value_and_typed_samples():
    schema = {
        "type": "object",
        "required": ["gender", "age", "score", "ok", "tags"],
        "properties": {
            "gender": {"type": "string", "enum": ["male", "female", "other"]},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }

    assert example_for(schema) == {
        "gender": "male",
        "age": 42,
        "score": 1.5,
        "ok": True,
        "tags": ["Fake tags"],
    }
    assert json.loads(json.dumps(example_for(schema))) == example_for(schema)
