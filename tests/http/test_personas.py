from __future__ import annotations

import re

import pytest

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


async def test_creating_a_persona_answers_201_with_version_1_from_manual(client, alice) -> None:
    body = {"title": "The Keeper", "data": {**_data(), "extensions": {"fears": "silence"}}}

    response = await client.post("/v1/personas", json=body, headers=alice)

    assert response.status_code == 201
    persona = response.json()
    assert persona["id"].startswith("prs_")
    assert persona["title"] == "The Keeper"
    assert persona["visibility"] == "private"
    assert persona["profile_image"] is None
    assert persona["cloned_from"] is None
    assert persona["publication"]["status"] == "none"
    assert persona["publication"]["public_version_id"] is None
    assert persona["publication"]["tags"] == []
    assert len(persona["suggested_properties"]) == 3
    assert "fears" not in persona["suggested_properties"]
    version = persona["current_version"]
    assert version["version_number"] == 1
    assert version["source"] == "manual"
    assert version["persona_id"] == persona["id"]
    assert version["data"] == {**_data(), "occupation": None, "extensions": {"fears": "silence"}}


async def test_timestamps_are_utc_with_milliseconds_and_a_z(client, alice, clock) -> None:
    clock.advance(microseconds=123_456)
    persona = (await client.post("/v1/personas", json={"data": _data()}, headers=alice)).json()

    assert persona["created_at"] == "2026-01-01T12:00:00.123Z"
    assert TIMESTAMP.fullmatch(persona["updated_at"])
    assert TIMESTAMP.fullmatch(persona["current_version"]["created_at"])


async def test_the_title_defaults_to_the_persona_name(client, alice, new_persona) -> None:
    persona = await new_persona(alice, name="Mira Holt")

    assert persona["title"] == "Mira Holt"
    assert persona["current_version"]["title"] == "Mira Holt"


async def test_a_created_persona_reads_back_the_same(client, alice, new_persona) -> None:
    created = await new_persona(alice)

    response = await client.get(f"/v1/personas/{created['id']}", headers=alice)

    assert response.status_code == 200
    assert response.json() == created


async def test_the_list_holds_own_personas_recently_updated_first(
    client, alice, bob, new_persona
) -> None:
    first = await new_persona(alice, name="First")
    second = await new_persona(alice, name="Second")
    await new_persona(bob, name="Not Alice's")

    page = (await client.get("/v1/personas", headers=alice)).json()

    assert [p["id"] for p in page["items"]] == [second["id"], first["id"]]
    assert page["next_cursor"] is None


async def test_q_searches_title_and_name_case_insensitively(client, alice, new_persona) -> None:
    by_name = await new_persona(alice, name="Captain Ilse Brandt")
    by_title = await new_persona(alice, title="Brandt's rival", name="Oskar")
    await new_persona(alice, name="Someone Else")

    page = (await client.get("/v1/personas", params={"q": "brandt"}, headers=alice)).json()

    assert {p["id"] for p in page["items"]} == {by_name["id"], by_title["id"]}


async def test_the_list_pages_with_limit_and_an_opaque_cursor(client, alice, new_persona) -> None:
    created = [await new_persona(alice, name=f"Persona {n}") for n in range(3)]
    newest_first = [p["id"] for p in reversed(created)]

    first = (await client.get("/v1/personas", params={"limit": 2}, headers=alice)).json()
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await client.get("/v1/personas", params=params, headers=alice)).json()

    assert [p["id"] for p in first["items"]] == newest_first[:2]
    assert isinstance(first["next_cursor"], str)
    assert [p["id"] for p in second["items"]] == newest_first[2:]
    assert second["next_cursor"] is None


async def test_the_full_lifecycle_from_creation_to_deletion(client, alice, new_persona) -> None:
    persona = await new_persona(alice, title="Keeper")
    pid, v1 = persona["id"], persona["current_version"]["id"]
    assert (await client.get(f"/v1/personas/{pid}", headers=alice)).json() == persona
    other = await new_persona(alice, title="Other")
    found = await client.get("/v1/personas", params={"q": "keep", "limit": 1}, headers=alice)
    assert [p["id"] for p in found.json()["items"]] == [pid]
    paged = (await client.get("/v1/personas", params={"limit": 1}, headers=alice)).json()
    assert [p["id"] for p in paged["items"]] == [other["id"]]
    assert paged["next_cursor"] is not None
    edit = {"data": {"occupation": "lighthouse keeper"}, "note": "give her a job"}
    v2 = (await client.post(f"/v1/personas/{pid}/versions", json=edit, headers=alice)).json()
    versions = (await client.get(f"/v1/personas/{pid}/versions", headers=alice)).json()
    assert [v["id"] for v in versions["items"]] == [v1, v2["id"]]
    current = await client.get(f"/v1/personas/{pid}/versions/current", headers=alice)
    assert current.json() == v2
    reverted = await client.put(
        f"/v1/personas/{pid}/current-version", json={"version_id": v1}, headers=alice
    )
    assert reverted.json()["current_version"]["id"] == v1
    clone = (await client.post(f"/v1/personas/{pid}/clone", headers=alice)).json()
    assert clone["cloned_from"] == {"persona_id": pid, "version_id": v1, "slug": None}
    events = (await client.get(f"/v1/personas/{pid}/events", headers=alice)).json()
    types = [e["type"] for e in events["items"]]
    assert types == ["persona.reverted", "persona.version_created", "persona.created"]
    assert (await client.delete(f"/v1/personas/{pid}", headers=alice)).status_code == 204
    assert (await client.get(f"/v1/personas/{pid}", headers=alice)).status_code == 404
    assert (await client.delete(f"/v1/personas/{pid}", headers=alice)).status_code == 404
    assert (await client.get(f"/v1/personas/{clone['id']}", headers=alice)).status_code == 200


async def test_an_edit_answers_201_with_the_new_version(client, alice, new_persona) -> None:
    persona = await new_persona(alice)
    body = {"data": {"summary": "A keeper of drowned voices."}, "note": "shorter", "title": "V2"}

    response = await client.post(f"/v1/personas/{persona['id']}/versions", json=body, headers=alice)

    assert response.status_code == 201
    version = response.json()
    assert version["version_number"] == 2
    assert version["source"] == "manual"
    assert version["title"] == "V2"
    assert version["user_message"] == "shorter"
    assert version["data"]["summary"] == "A keeper of drowned voices."


async def test_a_version_reads_by_id_and_as_current(client, alice, new_persona) -> None:
    persona = await new_persona(alice)
    pid, version = persona["id"], persona["current_version"]

    by_id = await client.get(f"/v1/personas/{pid}/versions/{version['id']}", headers=alice)
    current = await client.get(f"/v1/personas/{pid}/versions/current", headers=alice)

    assert by_id.json() == version
    assert current.json() == version


async def test_reverting_moves_the_current_version_and_logs_persona_reverted(
    client, alice, new_persona
) -> None:
    persona = await new_persona(alice)
    pid, v1 = persona["id"], persona["current_version"]["id"]
    edit = {"data": {"age": "35"}}
    v2 = (await client.post(f"/v1/personas/{pid}/versions", json=edit, headers=alice)).json()

    response = await client.put(
        f"/v1/personas/{pid}/current-version", json={"version_id": v1}, headers=alice
    )

    assert response.status_code == 200
    assert response.json()["current_version"]["id"] == v1
    latest = (await client.get(f"/v1/personas/{pid}/events", headers=alice)).json()["items"][0]
    assert latest["type"] == "persona.reverted"
    assert latest["data"] == {"from_version_id": v2["id"], "to_version_id": v1}
    assert latest["version_id"] == v1


async def test_reverting_to_the_current_version_is_422_no_change(
    client, alice, new_persona
) -> None:
    persona = await new_persona(alice)
    body = {"version_id": persona["current_version"]["id"]}

    response = await client.put(
        f"/v1/personas/{persona['id']}/current-version", json=body, headers=alice
    )

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/no-change"


async def test_a_clone_is_a_new_private_persona_with_attribution(
    client, alice, new_persona
) -> None:
    source = await new_persona(alice, title="Original")
    sid, sv = source["id"], source["current_version"]["id"]

    response = await client.post(f"/v1/personas/{sid}/clone", headers=alice)

    assert response.status_code == 201
    clone = response.json()
    assert clone["id"] != sid
    assert clone["visibility"] == "private"
    assert clone["cloned_from"] == {"persona_id": sid, "version_id": sv, "slug": None}
    assert clone["current_version"]["source"] == "clone"
    assert clone["current_version"]["user_message"] == "Cloned from Original v1"
    assert clone["current_version"]["data"] == source["current_version"]["data"]
    events = (await client.get(f"/v1/personas/{clone['id']}/events", headers=alice)).json()
    cloned = next(e for e in events["items"] if e["type"] == "persona.cloned")
    assert cloned["data"] == {"source_persona_id": sid, "source_version_id": sv}
    assert cloned["version_id"] is None


async def test_events_are_listed_newest_first_with_their_version(
    client, alice, new_persona
) -> None:
    persona = await new_persona(alice)
    pid = persona["id"]
    edit = {"data": {"age": "40"}}
    v2 = (await client.post(f"/v1/personas/{pid}/versions", json=edit, headers=alice)).json()

    events = (await client.get(f"/v1/personas/{pid}/events", headers=alice)).json()

    first, second = events["items"]
    assert events["next_cursor"] is None
    assert first["type"] == "persona.version_created"
    assert first["version_id"] == v2["id"]
    assert first["data"] == {"version_id": v2["id"], "version_number": 2, "source": "manual"}
    assert second["type"] == "persona.created"
    assert second["version_id"] == persona["current_version"]["id"]
    assert first["id"].startswith("pev_")
    assert TIMESTAMP.fullmatch(first["created_at"])


async def test_events_page_with_limit_and_cursor(client, alice, new_persona) -> None:
    persona = await new_persona(alice)
    pid = persona["id"]
    for age in ("41", "42"):
        await client.post(
            f"/v1/personas/{pid}/versions", json={"data": {"age": age}}, headers=alice
        )

    first = (await client.get(f"/v1/personas/{pid}/events?limit=2", headers=alice)).json()
    url = f"/v1/personas/{pid}/events?limit=2&cursor={first['next_cursor']}"
    second = (await client.get(url, headers=alice)).json()

    assert [e["type"] for e in first["items"]] == ["persona.version_created"] * 2
    assert [e["type"] for e in second["items"]] == ["persona.created"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("path", ["", "/versions", "/versions/current", "/events"])
async def test_a_deleted_persona_reads_as_missing_for_its_owner(
    client, alice, new_persona, path
) -> None:
    persona = await new_persona(alice)
    await client.delete(f"/v1/personas/{persona['id']}", headers=alice)

    response = await client.get(f"/v1/personas/{persona['id']}{path}", headers=alice)

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_a_deleted_persona_leaves_the_list(client, alice, new_persona) -> None:
    kept = await new_persona(alice)
    gone = await new_persona(alice)

    assert (await client.delete(f"/v1/personas/{gone['id']}", headers=alice)).status_code == 204

    page = (await client.get("/v1/personas", headers=alice)).json()
    assert [p["id"] for p in page["items"]] == [kept["id"]]


def _data() -> dict[str, str]:
    return {
        "name": "Aurora Vale",
        "age": "34",
        "gender": "female",
        "appearance": "Tall, storm-grey eyes.",
        "personality": "Dry humour.",
        "background": "Raised on an island.",
        "summary": "A lighthouse keeper.",
    }
