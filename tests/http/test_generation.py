"""Generate, enhance and property actions over HTTP: JSON and SSE, charges, refunds, problems."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mynth_core.errors import (
    ContentRefusedError,
    ProviderRateLimitedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from mynth_core.testing import Reply

PERSONA = {
    "title": "The Keeper",
    "note_for_user": "Try giving her a rival.",
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "summary": "A lighthouse keeper who hears drowned ships.",
    "appearance": "Tall, storm-grey eyes.",
    "personality": "Dry humour.",
    "background": "Raised on a northern island.",
    "occupation": None,
    "extensions": [{"key": "fears", "value": "silence"}],
}
SSE = {"Accept": "text/event-stream"}


def events_of(body: str) -> list[tuple[str, Any]]:
    """Parse an SSE body into `(event, data)` pairs (comments skipped)."""
    parsed: list[tuple[str, Any]] = []
    for block in body.strip().split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        if data:
            parsed.append((name, json.loads("\n".join(data))))
    return parsed


async def balance(client, who) -> int:
    response = await client.get("/v1/me", headers=who)
    return int(response.json()["balance"]["total"])


async def test_an_anonymous_generation_answers_a_persona_and_stores_nothing(
    client, backend, chat_model
) -> None:
    chat_model.script(PERSONA)
    before = await backend.counts()

    response = await client.post("/v1/personas/generate", json={"prompt": "a keeper"})

    assert response.status_code == 200, response.text
    persona = response.json()["persona"]
    assert persona["title"] == "The Keeper"
    assert persona["ai_note"] == "Try giving her a rival."
    assert persona["data"]["extensions"] == {"fears": "silence"}
    assert await backend.counts() == before


async def test_a_signed_in_generation_stores_a_persona_and_charges_one_token(
    client, alice, chat_model
) -> None:
    chat_model.script(PERSONA)
    before = await balance(client, alice)

    response = await client.post(
        "/v1/personas/generate", json={"prompt": "a keeper"}, headers=alice
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"]["source"] == "generate"
    assert body["version"]["user_message"] == "a keeper"
    assert body["persona"]["current_version"]["id"] == body["version"]["id"]
    stored = await client.get(f"/v1/personas/{body['persona']['id']}", headers=alice)
    assert stored.status_code == 200
    assert await balance(client, alice) == before - 1


async def test_the_embedded_offline_generator_answers_without_a_script(client, alice) -> None:
    response = await client.post(
        "/v1/personas/generate", json={"prompt": "a retired pilot who paints"}, headers=alice
    )

    assert response.status_code == 201, response.text
    assert response.json()["version"]["model"].startswith("offline/")


async def test_a_stream_sends_partials_then_exactly_one_done(client, alice, chat_model) -> None:
    chat_model.script(PERSONA)

    response = await client.post(
        "/v1/personas/generate", json={"prompt": "a keeper"}, headers=alice | SSE
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert names.count("done") == 1
    assert set(names[:-1]) == {"partial"}
    partials = [data for name, data in events if name == "partial"]
    assert partials[-1]["data"]["name"] == "Aurora Vale"
    assert events[-1][1]["version"]["data"]["name"] == "Aurora Vale"


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (ProviderUnavailableError("down"), 502, "provider-error"),
        (ProviderRateLimitedError("busy", retry_after=7), 503, "provider-busy"),
        (ProviderTimeoutError("slow"), 504, "provider-timeout"),
        (ContentRefusedError("no"), 422, "content-refused"),
    ],
)
async def test_a_provider_failure_is_a_problem_and_the_token_comes_back(
    client, alice, backend, chat_model, error, status, slug
) -> None:
    before = await balance(client, alice)
    personas = (await backend.counts())["personas"]
    chat_model.script(Reply(error=error))

    response = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"
    if status == 503:
        assert response.headers["retry-after"] == "7"
    assert await balance(client, alice) == before
    assert (await backend.counts())["personas"] == personas


async def test_a_failure_mid_stream_ends_with_one_error_event_and_a_refund(
    client, alice, chat_model
) -> None:
    before = await balance(client, alice)
    chat_model.script(
        Reply(json.dumps(PERSONA), error=ProviderUnavailableError("cut"), fail_after=4)
    )

    response = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice | SSE)

    events = events_of(response.text)
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "/problems/provider-error"
    assert [name for name, _ in events].count("error") == 1
    assert "done" not in [name for name, _ in events]
    assert await balance(client, alice) == before


async def test_an_unusable_answer_twice_is_generation_invalid(client, alice, chat_model) -> None:
    chat_model.script("not json", {"name": "only"})

    response = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice)

    assert response.status_code == 502
    assert response.json()["type"] == "/problems/generation-invalid"


async def test_without_tokens_the_answer_is_402_and_nothing_is_generated(
    client, alice, chat_model
) -> None:
    for _ in range(await balance(client, alice)):
        await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice)
    requests = len(chat_model.requests)

    response = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice)

    assert response.status_code == 402
    assert response.json()["required"] == 1
    assert len(chat_model.requests) == requests


async def test_a_repeated_idempotency_key_returns_the_first_persona_and_charges_once(
    client, alice
) -> None:
    key = {"Idempotency-Key": "gen-1"}
    before = await balance(client, alice)

    first = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice | key)
    again = await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice | key)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["version"] == first.json()["version"]
    assert await balance(client, alice) == before - 1


async def test_an_anonymous_caller_cannot_regenerate(client) -> None:
    response = await client.post(
        "/v1/personas/generate", json={"prompt": "x", "persona_id": "prs_x"}
    )

    assert response.status_code == 401


async def test_regenerating_someone_elses_persona_is_not_found(
    client, alice, bob, new_persona
) -> None:
    persona = await new_persona(bob)

    response = await client.post(
        "/v1/personas/generate", json={"prompt": "x", "persona_id": persona["id"]}, headers=alice
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2049}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "x", "colour": "red"}, "colour"),
    ],
)
async def test_bad_generate_input_is_a_validation_problem(client, alice, body, field) -> None:
    response = await client.post("/v1/personas/generate", json=body, headers=alice)

    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_an_unknown_model_is_refused(client, alice) -> None:
    response = await client.post(
        "/v1/personas/generate", json={"prompt": "x", "model": "no/such"}, headers=alice
    )

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/unknown-model"


async def test_enhance_writes_a_version_with_the_changed_fields(
    client, alice, new_persona, chat_model
) -> None:
    persona = await new_persona(alice)
    changes = dict.fromkeys(PERSONA) | {
        "background": "A retired pilot.",
        "note_for_user": "Made her a pilot.",
        "extensions": [],
    }
    chat_model.script(changes)

    response = await client.post(
        f"/v1/personas/{persona['id']}/enhance", json={"prompt": "a pilot"}, headers=alice
    )

    assert response.status_code == 201, response.text
    version = response.json()
    assert version["source"] == "enhance"
    assert version["data"]["background"] == "A retired pilot."
    assert version["ai_note"] == "Made her a pilot."


async def test_an_enhance_that_changes_nothing_answers_no_change_and_refunds(
    client, alice, new_persona, chat_model
) -> None:
    persona = await new_persona(alice)
    before = await balance(client, alice)
    chat_model.script(dict.fromkeys(PERSONA) | {"note_for_user": "Nothing.", "extensions": []})

    response = await client.post(
        f"/v1/personas/{persona['id']}/enhance", json={"prompt": "x"}, headers=alice | SSE
    )

    events = events_of(response.text)
    assert events[-1] == ("done", {"outcome": "no_change", "version": None, "ai_note": "Nothing."})
    assert await balance(client, alice) == before


async def test_a_property_action_is_free_and_writes_one_property(
    client, alice, new_persona, chat_model
) -> None:
    persona = await new_persona(alice)
    before = await balance(client, alice)
    chat_model.script({"daily_routine": "Up at five."})

    response = await client.post(
        f"/v1/personas/{persona['id']}/property-actions",
        json={"property": "daily_routine", "action": "create"},
        headers=alice,
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["extensions"] == {"daily_routine": "Up at five."}
    assert response.json()["user_message"] == "Create daily routine"
    assert await balance(client, alice) == before


async def test_expanding_a_missing_property_is_property_missing(client, alice, new_persona) -> None:
    persona = await new_persona(alice)

    response = await client.post(
        f"/v1/personas/{persona['id']}/property-actions",
        json={"property": "fears", "action": "expand"},
        headers=alice,
    )

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/property-missing"


async def test_a_property_action_on_a_fixed_field_is_a_validation_problem(
    client, alice, new_persona
) -> None:
    persona = await new_persona(alice)

    response = await client.post(
        f"/v1/personas/{persona['id']}/property-actions",
        json={"property": "name", "action": "rewrite"},
        headers=alice,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "property"


def _log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_each_generation_writes_one_outcome_event_without_its_content(
    client, alice, alice_id, chat_model, capsys
) -> None:
    chat_model.script(PERSONA, Reply(error=ProviderTimeoutError("slow")))
    capsys.readouterr()

    await client.post(
        "/v1/personas/generate",
        json={"prompt": "a very secret prompt"},
        headers=alice | {"X-Request-ID": "gen-log"},
    )
    await client.post("/v1/personas/generate", json={"prompt": "x"}, headers=alice)

    logs = capsys.readouterr().err
    lines = [e for e in _log_lines(logs) if e["event"].startswith("generation.")]
    assert [e["event"] for e in lines] == ["generation.succeeded", "generation.failed"]
    ok, failed = lines
    assert ok["request_id"] == "gen-log"
    assert ok["user_id"] == alice_id
    assert ok["operation"] == "persona_generate"
    assert ok["outcome"] == "success"
    assert ok["provider"] == "scripted"
    assert ok["model"] == ok["model_requested"]
    assert ok["attempts"] == 1
    assert ok["usage"]["completion_tokens"] > 0
    assert (ok["tokens_charged"], ok["tokens_refunded"]) == (1, 0)
    assert ok["latency_ms"] >= ok["ttft_ms"] >= 0
    assert ok["persona_id"].startswith("prs_")
    assert (failed["outcome"], failed["tokens_refunded"]) == ("timeout", 1)
    assert failed["error"]["type"] == "ProviderTimeoutError"
    assert "a very secret prompt" not in logs
    assert "Aurora Vale" not in logs
