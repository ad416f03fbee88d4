"""Chats over HTTP: create and pin, replies (JSON and SSE), branches, story chapters, errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from mynth_adapters.offline.partner import ROLLING_MARKER
from mynth_core.errors import ProviderUnavailableError
from mynth_core.testing import Reply

SSE = {"Accept": "text/event-stream"}


def events_of(body: str) -> list[tuple[str, Any]]:
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


@pytest.fixture(autouse=True)
def replies_only(chat_model) -> None:
    """Scripted replies answer chat turns; summaries come from the offline generator."""
    chat_model.accepts = lambda request: (
        request.schema is None
        and not any(ROLLING_MARKER.match(m.content) for m in request.messages)
    )


@pytest.fixture
async def chat(client, alice, new_persona) -> dict[str, Any]:
    persona = await new_persona(alice)
    response = await client.post("/v1/chats", json={"persona_id": persona["id"]}, headers=alice)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(client, who, chat, content: str, **extra: Any):
    return await client.post(
        f"/v1/chats/{chat['id']}/messages", json={"content": content}, headers=who | extra
    )


async def test_the_chat_model_catalogue_is_public(client) -> None:
    response = await client.get("/v1/chat-models")

    models = response.json()
    assert response.status_code == 200
    default = [m for m in models if m["default"]]
    assert [m["id"] for m in default] == ["x-ai/grok-4-fast"]
    assert default[0]["cost"] == {"roleplay": 1, "story": 2}
    assert all(m["context_window"] > 0 for m in models)


async def test_a_new_chat_is_pinned_to_the_current_version(chat) -> None:
    assert chat["mode"] == "roleplay"
    assert chat["title"] == "Aurora Vale"
    assert chat["persona"]["version_number"] == 1
    assert chat["persona"]["name"] == "Aurora Vale"
    assert chat["settings"]["model"] == "x-ai/grok-4-fast"
    assert chat["settings"]["nsfw_level"] == "sfw"
    assert chat["leaf_id"] is None
    assert chat["generation_in_progress"] is False


async def test_another_users_private_persona_is_not_found(client, bob, chat) -> None:
    response = await client.post(
        "/v1/chats", json={"persona_id": chat["persona"]["id"]}, headers=bob
    )

    assert response.status_code == 404


async def test_another_users_chat_is_not_found(client, bob, chat) -> None:
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=bob)).status_code == 404
    assert (await send(client, bob, chat, "hi")).status_code == 404


async def test_sending_stores_both_messages_charges_and_moves_the_leaf(
    client, alice, chat, chat_model
) -> None:
    chat_model.script("Welcome aboard.")

    response = await send(client, alice, chat, "Hello!")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user_message"]["content"] == "Hello!"
    assert body["reply"]["content"] == "Welcome aboard."
    assert body["reply"]["cost"] == 1
    assert body["reply"]["siblings"] == {"count": 1, "index": 0}
    assert body["balance"]["total"] == 29  # 10 free + 20 welcome - 1
    thread = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=alice)).json()
    assert [m["content"] for m in thread["items"]] == ["Hello!", "Welcome aboard."]
    assert thread["leaf_id"] == body["reply"]["id"]


async def test_a_streamed_reply_sends_ids_deltas_and_one_done(
    client, alice, chat, chat_model
) -> None:
    chat_model.script("A long and winding reply.")

    response = await send(client, alice, chat, "Hello!", **SSE)

    events = events_of(response.text)
    names = [name for name, _ in events]
    assert names[0] == "message"
    assert names[-1] == "done"
    assert names.count("done") == 1
    assert "".join(d["text"] for n, d in events if n == "delta") == "A long and winding reply."
    assert events[-1][1]["reply"]["id"] == events[0][1]["reply_id"]


async def test_a_provider_failure_refunds_and_keeps_the_user_message(
    client, alice, chat, chat_model
) -> None:
    chat_model.script(Reply(error=ProviderUnavailableError("down")))

    response = await send(client, alice, chat, "Hello!")

    assert response.status_code == 502
    me = (await client.get("/v1/me", headers=alice)).json()
    assert me["balance"]["total"] == 30
    thread = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=alice)).json()
    assert [m["content"] for m in thread["items"]] == ["Hello!"]
    retry = await client.post(
        f"/v1/chats/{chat['id']}/messages/{thread['items'][0]['id']}/regenerate", headers=alice
    )
    assert retry.status_code == 201
    assert retry.json()["reply"]["parent_id"] == thread["items"][0]["id"]


async def test_regenerate_edit_and_switching_branches(
    client, alice, chat, chat_model, clock
) -> None:
    chat_model.script("First.", "Second.", "Third.")
    first = (await send(client, alice, chat, "Hello!")).json()
    base = f"/v1/chats/{chat['id']}/messages"

    clock.advance(seconds=1)  # siblings are ordered by creation time
    again = await client.post(f"{base}/{first['reply']['id']}/regenerate", headers=alice)
    clock.advance(seconds=1)
    edited = await client.post(
        f"{base}/{first['user_message']['id']}/edit", json={"content": "Hi!"}, headers=alice
    )
    switched = await client.put(
        f"/v1/chats/{chat['id']}/leaf",
        json={"message_id": first["user_message"]["id"]},
        headers=alice,
    )

    assert again.json()["reply"]["siblings"] == {"count": 2, "index": 1}
    assert edited.json()["user_message"]["siblings"] == {"count": 2, "index": 1}
    assert edited.json()["reply"]["content"] == "Third."
    assert switched.json()["leaf_id"] == again.json()["reply"]["id"]
    thread = (await client.get(base, headers=alice)).json()
    assert [m["content"] for m in thread["items"]] == ["Hello!", "Second."]


async def test_while_a_generation_holds_the_chat_replies_and_delete_are_409(
    client, alice, chat, backend, clock
) -> None:
    await backend.hold_generation(chat["id"], until=clock.now() + timedelta(minutes=1))
    url = f"/v1/chats/{chat['id']}"

    shown = (await client.get(url, headers=alice)).json()
    refused = await send(client, alice, chat, "second")
    deleted = await client.delete(url, headers=alice)
    clock.advance(minutes=2)  # a crashed instance's lease expires
    after = await send(client, alice, chat, "third")

    assert shown["generation_in_progress"] is True
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/generation-in-progress"
    assert deleted.status_code == 409
    assert after.status_code == 201


async def test_story_mode_numbers_chapters(client, alice, chat, chat_model) -> None:
    await client.patch(f"/v1/chats/{chat['id']}", json={"mode": "story"}, headers=alice)
    chat_model.script("Chapter 1: Landfall\nThe boat beached.", "Chapter 2: Night\nStars.")

    one = (await send(client, alice, chat, "Begin")).json()
    two = await send(client, alice, chat, "Go on", **SSE)

    assert one["reply"]["chapter"] == {"number": 1, "title": "Landfall"}
    assert one["reply"]["content"] == "The boat beached."
    assert one["reply"]["cost"] == 2
    events = events_of(two.text)
    assert ("chapter", {"number": 2, "title": "Night"}) in events


async def test_settings_update_partially_and_validate(client, alice, chat) -> None:
    url = f"/v1/chats/{chat['id']}"

    updated = await client.patch(
        url,
        json={"settings": {"scenario": "A storm at sea.", "user_persona": {"name": "Sam"}}},
        headers=alice,
    )
    cleared = await client.patch(url, json={"settings": {"scenario": None}}, headers=alice)
    unknown = await client.patch(url, json={"settings": {"model": "no/such"}}, headers=alice)
    too_long = await client.patch(url, json={"settings": {"author_note": "x" * 501}}, headers=alice)

    assert updated.json()["settings"]["scenario"] == "A storm at sea."
    assert updated.json()["settings"]["user_persona"] == {"name": "Sam", "description": ""}
    assert cleared.json()["settings"]["scenario"] is None
    assert cleared.json()["settings"]["user_persona"] == {"name": "Sam", "description": ""}
    assert unknown.status_code == 422
    assert unknown.json()["type"] == "/problems/unknown-model"
    assert too_long.status_code == 422


async def test_chats_are_listed_newest_first_and_deleted(client, alice, chat, new_persona) -> None:
    persona = await new_persona(alice, name="Brann")
    other = (
        await client.post("/v1/chats", json={"persona_id": persona["id"]}, headers=alice)
    ).json()

    listed = (await client.get("/v1/chats", headers=alice)).json()
    deleted = await client.delete(f"/v1/chats/{chat['id']}", headers=alice)

    assert [c["id"] for c in listed["items"]] == [other["id"], chat["id"]]
    assert deleted.status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=alice)).status_code == 404


async def test_upgrade_repins_to_the_current_version(client, alice, chat) -> None:
    await client.post(
        f"/v1/personas/{chat['persona']['id']}/versions",
        json={"data": {"age": "35"}},
        headers=alice,
    )

    upgraded = await client.post(f"/v1/chats/{chat['id']}/upgrade", headers=alice)

    assert upgraded.status_code == 200
    assert upgraded.json()["persona"]["version_number"] == 2


@pytest.mark.parametrize("content", ["", "   ", "x" * 8001])
async def test_bad_message_content_is_a_validation_problem(client, alice, chat, content) -> None:
    response = await send(client, alice, chat, content)

    assert response.status_code == 422
