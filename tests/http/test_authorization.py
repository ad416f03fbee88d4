"""Another user's persona answers exactly like an unknown one, on every route."""

from __future__ import annotations

from typing import Any

import pytest

UNKNOWN = "prs_does_not_exist"


def _routes(version_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "", None),
        ("DELETE", "", None),
        ("GET", "/versions", None),
        ("GET", f"/versions/{version_id}", None),
        ("GET", "/versions/current", None),
        ("POST", "/versions", {"data": {"age": "99"}}),
        ("PUT", "/current-version", {"version_id": version_id}),
        ("POST", "/clone", None),
        ("GET", "/events", None),
    ]


ROUTE_NAMES = [f"{m} {p or '/'}" for m, p, _ in _routes("{version_id}")]


@pytest.fixture
async def alices(client, alice, bob, new_persona):
    persona = await new_persona(alice)
    await client.get("/v1/personas", headers=bob)  # provision bob before anything is counted
    return persona


@pytest.mark.parametrize("index", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
async def test_another_users_persona_is_404_exactly_like_an_unknown_id(
    client, bob, alices, backend, index
) -> None:
    method, path, body = _routes(alices["current_version"]["id"])[index]
    before = await backend.counts()

    theirs = await client.request(
        method, f"/v1/personas/{alices['id']}{path}", json=body, headers=bob
    )
    unknown = await client.request(method, f"/v1/personas/{UNKNOWN}{path}", json=body, headers=bob)

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content
    assert theirs.headers["content-type"] == "application/problem+json"
    assert alices["id"] not in theirs.text
    assert await backend.counts() == before


async def test_the_owner_still_sees_an_untouched_persona_afterwards(
    client, alice, bob, alices
) -> None:
    for method, path, body in _routes(alices["current_version"]["id"]):
        await client.request(method, f"/v1/personas/{alices['id']}{path}", json=body, headers=bob)

    response = await client.get(f"/v1/personas/{alices['id']}", headers=alice)

    assert response.json() == alices


async def test_another_users_list_never_shows_my_personas(client, bob, alices) -> None:
    page = (await client.get("/v1/personas", headers=bob)).json()

    assert page == {"items": [], "next_cursor": None}


async def test_anyone_may_clone_a_public_persona_and_gets_its_public_version(
    client, alice, bob, alices, backend
) -> None:
    await backend.make_public(alices["id"])

    response = await client.post(f"/v1/personas/{alices['id']}/clone", headers=bob)

    assert response.status_code == 201
    clone = response.json()
    assert clone["cloned_from"]["persona_id"] == alices["id"]
    assert clone["current_version"]["data"] == alices["current_version"]["data"]
    mine = (await client.get("/v1/personas", headers=bob)).json()
    assert [p["id"] for p in mine["items"]] == [clone["id"]]
