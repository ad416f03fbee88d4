from __future__ import annotations

import pytest


@pytest.fixture
async def persona(client, alice, new_persona):
    return await new_persona(alice, occupation="lighthouse keeper", extensions={"fears": "silence"})


async def _edit(client, who, persona, **body):
    return await client.post(f"/v1/personas/{persona['id']}/versions", json=body, headers=who)


async def test_given_fields_replace_and_the_rest_is_kept(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"name": "Aurora North", "age": "35"})

    data = response.json()["data"]
    before = persona["current_version"]["data"]
    assert data == {**before, "name": "Aurora North", "age": "35"}


async def test_extensions_merge_into_the_current_ones(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"extensions": {"hobbies": "knots"}})

    assert response.json()["data"]["extensions"] == {"fears": "silence", "hobbies": "knots"}


async def test_an_extension_value_replaces_the_same_key(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"extensions": {"fears": "the dark"}})

    assert response.json()["data"]["extensions"] == {"fears": "the dark"}


async def test_null_removes_the_optional_occupation(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"occupation": None})

    assert response.status_code == 201
    assert response.json()["data"]["occupation"] is None


async def test_null_removes_an_extension_key(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"extensions": {"fears": None}})

    assert response.status_code == 201
    assert response.json()["data"]["extensions"] == {}


async def test_a_title_and_note_are_stored_with_the_version(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, title="Retired", note="she retires")

    version = response.json()
    assert (version["title"], version["user_message"]) == ("Retired", "she retires")
    reread = await client.get(f"/v1/personas/{persona['id']}", headers=alice)
    assert reread.json()["title"] == "Retired"


async def test_null_on_a_required_field_is_422_naming_it(client, alice, persona, backend) -> None:
    before = await backend.counts()

    response = await _edit(client, alice, persona, data={"name": None, "summary": None})

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation-failed"
    assert {e["field"] for e in problem["errors"]} == {"data.name", "data.summary"}
    assert await backend.counts() == before


async def test_an_edit_that_changes_nothing_is_422_no_change(
    client, alice, persona, backend
) -> None:
    before = await backend.counts()
    same = persona["current_version"]["data"]["age"]

    response = await _edit(client, alice, persona, data={"age": same})

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/no-change"
    assert await backend.counts() == before


async def test_an_empty_edit_is_422_no_change(client, alice, persona) -> None:
    response = await _edit(client, alice, persona)

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/no-change"


async def test_a_stale_base_version_is_409_and_nothing_is_written(
    client, alice, persona, backend
) -> None:
    v1 = persona["current_version"]["id"]
    await _edit(client, alice, persona, data={"age": "36"})
    before = await backend.counts()

    response = await _edit(client, alice, persona, data={"age": "37"}, base_version_id=v1)

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/version-conflict"
    assert await backend.counts() == before
    current = await client.get(f"/v1/personas/{persona['id']}/versions/current", headers=alice)
    assert current.json()["data"]["age"] == "36"


async def test_the_current_base_version_lets_the_edit_through(client, alice, persona) -> None:
    base = persona["current_version"]["id"]

    response = await _edit(client, alice, persona, data={"age": "50"}, base_version_id=base)

    assert response.status_code == 201
    assert response.json()["version_number"] == 2


async def test_an_over_long_note_is_422_naming_note(client, alice, persona) -> None:
    response = await _edit(client, alice, persona, data={"age": "51"}, note="n" * 501)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["note"]
