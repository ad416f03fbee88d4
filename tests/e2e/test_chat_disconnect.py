"""A client that leaves a streamed chat reply, against the real `mynth serve` and a fake upstream.

The reply runs on without its client: it is stored as the active leaf and charged once, or,
when the upstream fails after the hang-up, refunded with the user message kept (PRODUCT §6.9).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

from e2e.serverkit import DEADLINE, balance, chunks, dev_token, eventually
from providers.openrouter import FakeOpenRouter, mid_stream_error, ok

pytestmark = pytest.mark.e2e

GAP = 0.05  # seconds between the upstream's chunks: the reply takes ~1 s
REPLY = chunks("The lamp swings in the wind and Aurora looks up from her log. " * 3, 20)
SUMMARY = json.dumps(
    {
        "appearance": "tall, storm-grey eyes, wool coat",
        "personality": "dry; loyal",
        "background": "Keeps the last manned lighthouse.",
        "interests": None,
        "skills": None,
        "motivations": None,
    }
)
PERSONA = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
}


@pytest.fixture
def openrouter() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter.running() as fake:
        yield fake


@pytest.fixture
def env(env, openrouter) -> dict[str, str]:
    return env | {
        "MYNTH_OPENROUTER_API_KEY": openrouter.api_key,
        "MYNTH_OPENROUTER_BASE_URL": openrouter.base_url,
        "MYNTH_DAILY_FREE_TOKENS": "0",  # only the welcome grant: midnight cannot interfere
    }


@pytest.fixture
def alice(env) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(env, 'alice')}"}


@pytest.fixture
def chat(server, alice) -> str:
    with httpx.Client(base_url=server, headers=alice, timeout=DEADLINE) as client:
        persona = client.post("/v1/personas", json={"data": PERSONA})
        assert persona.status_code == 201, persona.text
        chat = client.post("/v1/chats", json={"persona_id": persona.json()["id"]})
        assert chat.status_code == 201, chat.text
        return str(chat.json()["id"])


def first_delta_then_disconnect(base: str, headers: dict[str, str], chat: str) -> None:
    """Send a streamed message, read up to the first `delta` event, and hang up."""
    with (
        httpx.Client(base_url=base, timeout=DEADLINE) as client,
        client.stream(
            "POST",
            f"/v1/chats/{chat}/messages",
            json={"content": "Good evening, keeper."},
            headers={**headers, "Accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line == "event: delta":
                return
    pytest.fail("the stream ended without a delta event")


def thread(base: str, headers: dict[str, str], chat: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/v1/chats/{chat}/messages", headers=headers, timeout=DEADLINE)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def chat_state(base: str, headers: dict[str, str], chat: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/v1/chats/{chat}", headers=headers, timeout=DEADLINE)
    return dict(answer.json())


def test_a_reply_is_stored_and_charged_once_after_its_client_disconnects(
    server, alice, chat, openrouter
) -> None:
    before = balance(server, alice)
    openrouter.script(ok(SUMMARY), ok(chunks=REPLY, chunk_delay=GAP))

    first_delta_then_disconnect(server, alice, chat)

    assert chat_state(server, alice, chat)["generation_in_progress"] is True
    done = eventually(
        lambda: (t := thread(server, alice, chat))["items"][-1]["role"] == "assistant" and t,
        "the reply is stored",
    )
    assert done["items"][-1]["content"] == "".join(REPLY).strip()
    assert done["leaf_id"] == done["items"][-1]["id"]
    assert chat_state(server, alice, chat)["generation_in_progress"] is False
    assert balance(server, alice) == before - 1


def test_a_reply_whose_upstream_fails_after_the_disconnect_is_refunded(
    server, alice, chat, openrouter
) -> None:
    before = balance(server, alice)
    failing = attrs.evolve(mid_stream_error(after=10), chunks=REPLY, chunk_delay=GAP)
    openrouter.script(ok(SUMMARY), failing)

    first_delta_then_disconnect(server, alice, chat)

    eventually(
        lambda: not chat_state(server, alice, chat)["generation_in_progress"],
        "the failed generation frees the chat",
    )
    items = thread(server, alice, chat)["items"]
    assert [m["role"] for m in items] == ["user"]  # the user message stays; no half reply
    assert balance(server, alice) == before
