"""`/v1/me`, `/v1/me/ledger` and `/v1/pricing`."""

from __future__ import annotations


async def test_me_shows_the_caller_with_the_welcome_grant_and_todays_free_tokens(
    client, alice, alice_id
) -> None:
    response = await client.get("/v1/me", headers=alice)

    assert response.status_code == 200
    me = response.json()
    assert me["id"] == alice_id
    assert me["balance"] == {
        "daily_free_allowance": 10,
        "daily_free_remaining": 10,
        "daily_resets_at": "2026-01-02T00:00:00.000Z",
        "purchased": 20,
        "total": 30,
    }


async def test_me_needs_a_token(client) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/authentication-required"


async def test_the_ledger_lists_the_callers_entries_newest_first_without_keys(
    client, alice, bob
) -> None:
    await client.get("/v1/me", headers=bob)
    response = await client.get("/v1/me/ledger", headers=alice)

    assert response.status_code == 200
    page = response.json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in page["items"]] == [
        ("grant", 20, 30),
        ("daily_free", 10, 10),
    ]
    assert page["next_cursor"] is None
    assert all("idempotency_key" not in e for e in page["items"])


async def test_the_ledger_pages_with_a_cursor(client, alice) -> None:
    first = (await client.get("/v1/me/ledger", params={"limit": 1}, headers=alice)).json()
    second = await client.get(
        "/v1/me/ledger", params={"limit": 1, "cursor": first["next_cursor"]}, headers=alice
    )
    assert [e["kind"] for e in first["items"]] == ["grant"]
    assert [e["kind"] for e in second.json()["items"]] == ["daily_free"]
    assert second.json()["next_cursor"] is None


async def test_a_bad_ledger_cursor_is_422_naming_it(client, alice) -> None:
    response = await client.get("/v1/me/ledger", params={"cursor": "nope"}, headers=alice)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "cursor", "message": "is not a valid cursor"}]


async def test_pricing_is_public_and_lists_every_price_and_pack(client) -> None:
    response = await client.get("/v1/pricing")

    assert response.status_code == 200
    pricing = response.json()
    assert pricing["daily_free_allowance"] == 10
    assert pricing["operations"]["persona_generate"] == 1
    assert pricing["image_tiers"] == {"low": 1, "medium": 3, "high": 5}
    assert [(p["id"], p["tokens"], p["price"]["amount_cents"]) for p in pricing["packs"]] == [
        ("pack_100", 100, 149),
        ("pack_500", 500, 699),
        ("pack_1000", 1000, 999),
    ]
    defaults = [m for m in pricing["chat_models"] if m["default"]]
    assert [(m["cost"]["roleplay"], m["cost"]["story"]) for m in defaults] == [(1, 2)]
