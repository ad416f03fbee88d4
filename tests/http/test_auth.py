from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.datastructures import State

from mynth_adapters.testing import fake_container
from mynth_core.identity import Principal
from mynth_core.users import RECENT_USERS_TTL
from mynth_http.di import DEPENDENCIES, Injected
from mynth_http.problems import EXCEPTION_HANDLERS


async def test_no_token_is_401_authentication_required(client) -> None:
    response = await client.get("/v1/personas")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/authentication-required"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-known-token", "Basic dXNlcjpwYXNz", "Bearer", ""]
)
async def test_a_bad_token_is_401_invalid_token(client, authorization) -> None:
    response = await client.get("/v1/personas", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_session_cookie_signs_in(client, verifier, new_persona, alice, alice_id) -> None:
    persona = await new_persona(alice)
    client.cookies.set("__session", verifier.issue(alice_id))

    response = await client.get(f"/v1/personas/{persona['id']}")

    assert response.status_code == 200


async def test_the_header_wins_over_the_cookie(
    client, verifier, new_persona, bob, alice_id
) -> None:
    bobs = await new_persona(bob, name="Bob's")
    client.cookies.set("__session", verifier.issue(alice_id))

    page = (await client.get("/v1/personas", headers=bob)).json()

    assert [p["id"] for p in page["items"]] == [bobs["id"]]


async def test_a_bad_header_is_not_rescued_by_a_good_cookie(client, verifier, alice_id) -> None:
    client.cookies.set("__session", verifier.issue(alice_id))

    response = await client.get("/v1/personas", headers={"Authorization": "Bearer forged"})

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"


async def test_the_first_signed_in_request_provisions_the_user_once(
    client, alice, alice_id, backend
) -> None:
    await client.get("/v1/personas", headers=alice)
    await client.get("/v1/personas", headers=alice)

    assert await backend.user_ids() == [alice_id]
    assert (await backend.counts())["users"] == 1


async def test_a_deleted_users_valid_token_is_401_account_deleted(
    client, alice, alice_id, backend, clock, recent_users
) -> None:
    await client.get("/v1/personas", headers=alice)
    await backend.soft_delete_user(alice_id, at=clock.now())
    recent_users.forget(alice_id)  # as the deleting use case does on this process

    response = await client.get("/v1/personas", headers=alice)

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/account-deleted"


async def test_a_deletion_made_elsewhere_is_seen_once_the_recent_user_expires(
    client, alice, alice_id, backend, clock
) -> None:
    await client.get("/v1/personas", headers=alice)
    await backend.soft_delete_user(alice_id, at=clock.now())  # another instance deletes

    assert (await client.get("/v1/personas", headers=alice)).status_code == 200
    clock.advance(seconds=RECENT_USERS_TTL.total_seconds())
    response = await client.get("/v1/personas", headers=alice)

    assert response.json()["type"] == "/problems/account-deleted"


@get("/whoami", operation_id="WhoAmI")
async def whoami(principal: Injected[Principal | None]) -> dict[str, bool]:
    return {"signed_in": principal is not None}


# Fake-only: a bare Litestar app with one test route that only asks who is calling; no
# bootstrap, no lifespan, nothing stored.
@pytest.fixture
def anonymous_capable(verifier, client_for):
    container = fake_container(verifier=verifier)
    app = Litestar(
        [whoami],
        dependencies=dict(DEPENDENCIES),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        state=State({"container": container}),
    )
    return client_for(app)


async def test_an_anonymous_capable_route_accepts_no_token(anonymous_capable) -> None:
    async with anonymous_capable as client:
        response = await client.get("/whoami")

    assert response.json() == {"signed_in": False}


async def test_an_anonymous_capable_route_still_knows_a_signed_in_caller(
    anonymous_capable, alice
) -> None:
    async with anonymous_capable as client:
        response = await client.get("/whoami", headers=alice)

    assert response.json() == {"signed_in": True}


async def test_a_presented_bad_token_is_never_downgraded_to_anonymous(anonymous_capable) -> None:
    async with anonymous_capable as client:
        response = await client.get("/whoami", headers={"Authorization": "Bearer forged"})

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"
