"""A client that leaves a streamed generation, against the real `mynth serve` and a fake upstream.

A signed-in generation runs on without its client (stored and charged, or refunded when the
upstream fails); an anonymous one stops, and Mynth closes the upstream request (ADR 7).
Every wait is a deadline with polling; the upstream is paced so each scenario takes ~1 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from e2e.serverkit import DEADLINE, balance, chunks, dev_token, eventually
from providers.openrouter import FakeOpenRouter, Served, mid_stream_error, ok

pytestmark = pytest.mark.e2e

CHUNK_GAP = 0.05  # seconds between the upstream's content chunks: ~1.2 s for the answer
TITLE = "The Keeper of Lantern Rock"
PERSONA = {
    "title": TITLE,
    "note_for_user": "A quiet, weathered keeper; ask for her logbook next.",
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "occupation": "lighthouse keeper",
    "extensions": [],
}


ANSWER = chunks(json.dumps(PERSONA), 24)


@pytest.fixture
def openrouter() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter.running() as fake:
        yield fake


@pytest.fixture
def env(env, openrouter) -> dict[str, str]:
    return env | {
        "MYNTH_OPENROUTER_API_KEY": openrouter.api_key,
        "MYNTH_OPENROUTER_BASE_URL": openrouter.base_url,
        # Only the welcome grant: a UTC midnight during the test cannot change the balance.
        "MYNTH_DAILY_FREE_TOKENS": "0",
    }


def first_partial_then_disconnect(base: str, headers: dict[str, str]) -> dict[str, Any]:
    """Start a streamed generate, read up to the first `partial` event, and hang up."""
    with (
        httpx.Client(base_url=base, timeout=DEADLINE) as client,
        client.stream(
            "POST",
            "/v1/personas/generate",
            json={"prompt": "a lighthouse keeper who paints storms"},
            headers={**headers, "Accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert event == "partial", f"{event} before any partial event: {line}"
                return json.loads(line.removeprefix("data: "))
    pytest.fail("the stream ended without a partial event")


def personas(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    listed = httpx.get(f"{base}/v1/personas", headers=headers, timeout=DEADLINE)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def generation_outcome(log: Path) -> str | None:
    """The `outcome` of the first `generation.*` log event: written once a generation ended,
    after its charge was kept or refunded."""
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if str(record.get("event", "")).startswith("generation."):
            return str(record["outcome"])
    return None


def the_upstream_request(openrouter: FakeOpenRouter) -> Served:
    (served,) = openrouter.served
    return served


@pytest.fixture
def alice(env) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(env, 'alice')}"}


def test_a_signed_in_generation_is_stored_and_charged_once_after_its_client_disconnects(
    server, alice, openrouter, server_log
):
    before = balance(server, alice)
    openrouter.script(ok(chunks=ANSWER, chunk_delay=CHUNK_GAP))

    first = first_partial_then_disconnect(server, alice)

    assert "extensions" not in first["data"]  # the answer had only begun
    assert not the_upstream_request(openrouter).completed
    stored = eventually(lambda: personas(server, alice), "the generated persona is listed")
    assert [p["title"] for p in stored] == [TITLE]
    upstream = eventually(
        lambda: (s := the_upstream_request(openrouter)).completed and s,
        "the upstream answer is complete",
    )
    assert not upstream.disconnected
    assert eventually(lambda: generation_outcome(server_log), "the generation is logged") == (
        "success"
    )
    assert balance(server, alice) == before - 1


def test_a_signed_in_generation_whose_upstream_fails_after_the_disconnect_is_refunded(
    server, alice, openrouter, server_log
):
    before = balance(server, alice)
    failing = attrs.evolve(mid_stream_error(after=12), chunks=ANSWER, chunk_delay=CHUNK_GAP)
    openrouter.script(failing)

    first_partial_then_disconnect(server, alice)

    assert not the_upstream_request(openrouter).completed  # the error is still ~0.5 s away
    outcome = eventually(lambda: generation_outcome(server_log), "the generation is logged")
    assert outcome == "failed"
    upstream = the_upstream_request(openrouter)
    assert (upstream.completed, upstream.disconnected) == (True, False)
    assert personas(server, alice) == []
    assert balance(server, alice) == before


def test_an_anonymous_generation_closes_its_upstream_request_when_the_client_disconnects(
    server, openrouter, server_log
):
    openrouter.script(ok(chunks=ANSWER, chunk_delay=CHUNK_GAP))

    first_partial_then_disconnect(server, {})

    upstream = eventually(
        lambda: (s := the_upstream_request(openrouter)).disconnected and s,
        "Mynth closes the upstream request",
        seconds=3.0,  # the answer would take ~1.2 s to complete on its own
    )
    assert not upstream.completed
    outcome = eventually(lambda: generation_outcome(server_log), "the generation is logged")
    assert outcome == "cancelled"
