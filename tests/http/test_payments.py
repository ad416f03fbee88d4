"""Checkout and the Polar and Clerk webhooks over HTTP, signed by the reference libraries."""

from __future__ import annotations

import json

import pytest

from mynth_core.errors import PaymentProviderError
from providers.polar import order_paid, order_refunded
from providers.webhooks import WebhookSender


@pytest.fixture
def polar() -> WebhookSender:
    return WebhookSender.polar()


@pytest.fixture
def clerk() -> WebhookSender:
    return WebhookSender.clerk()


async def deliver(client, path: str, delivery):
    return await client.post(path, content=delivery.body, headers=dict(delivery.headers))


async def balance(client, who) -> dict:
    return (await client.get("/v1/me", headers=who)).json()["balance"]


async def test_a_checkout_opens_a_polar_session_for_the_packs_product(
    client, alice, alice_id, billing
) -> None:
    response = await client.post("/v1/checkouts", json={"pack_id": "pack_500"}, headers=alice)

    assert response.status_code == 201
    assert response.json() == {"checkout_id": "chk_0001", "url": "https://pay.example/chk_0001"}
    ((user, pack, success_url),) = billing.calls
    assert (user, pack.id, pack.tokens.value) == (alice_id, "pack_500", 500)
    assert "{CHECKOUT_ID}" in success_url


async def test_an_unknown_pack_is_422_and_nothing_is_opened(client, alice, billing) -> None:
    response = await client.post("/v1/checkouts", json={"pack_id": "pack_7"}, headers=alice)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "pack_id"
    assert billing.calls == []


async def test_polar_failing_after_retries_is_502(client, alice, billing) -> None:
    billing.failure = PaymentProviderError(detail="polar answered 503 three times")
    response = await client.post("/v1/checkouts", json={"pack_id": "pack_100"}, headers=alice)
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/payment-provider-error"


async def test_order_paid_credits_the_pack_once_and_a_duplicate_changes_nothing(
    client, alice, alice_id, polar, clock
) -> None:
    await client.get("/v1/me", headers=alice)
    paid = polar.valid(order_paid(external_id=alice_id, user_id=alice_id), at=clock.now())

    first = await deliver(client, "/v1/webhooks/polar", paid)
    again = await deliver(client, "/v1/webhooks/polar", polar.duplicate(paid, at=clock.now()))

    assert (first.status_code, first.json()) == (200, {"status": "processed"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert (await balance(client, alice))["purchased"] == 20 + 500


async def test_two_deliveries_of_one_order_credit_it_once(client, alice, alice_id, polar, clock):
    body = order_paid(order_id="ord-1", external_id=alice_id, user_id=alice_id)
    await deliver(client, "/v1/webhooks/polar", polar.valid(body, at=clock.now()))
    second = await deliver(client, "/v1/webhooks/polar", polar.valid(body, at=clock.now()))

    assert second.json() == {"status": "duplicate"}
    assert (await balance(client, alice))["purchased"] == 20 + 500


async def test_a_full_refund_claws_the_pack_back(client, alice, alice_id, polar, clock) -> None:
    ids = {"order_id": "ord-2", "external_id": alice_id, "user_id": alice_id}
    await deliver(client, "/v1/webhooks/polar", polar.valid(order_paid(**ids), at=clock.now()))
    refund = polar.valid(order_refunded(refunded_amount=699, **ids), at=clock.now())

    response = await deliver(client, "/v1/webhooks/polar", refund)

    assert response.json() == {"status": "processed"}
    assert (await balance(client, alice))["purchased"] == 20
    kinds = [e["kind"] for e in (await client.get("/v1/me/ledger", headers=alice)).json()["items"]]
    assert kinds[:2] == ["clawback", "purchase"]


async def test_polars_legacy_raw_secret_signature_is_accepted(client, alice_id, polar, clock):
    body = order_paid(external_id=alice_id, user_id=alice_id)
    response = await deliver(client, "/v1/webhooks/polar", polar.legacy(body, at=clock.now()))
    assert response.json() == {"status": "processed"}


async def test_an_unknown_product_or_event_type_is_acknowledged_and_ignored(
    client, alice_id, polar, clock, backend
) -> None:
    before = await backend.counts()
    unknown = order_paid(external_id=alice_id, product_id="prod-unknown")
    other = json.dumps({"type": "checkout.created", "data": {"id": "c1"}}).encode()

    for body in (unknown, other):
        response = await deliver(client, "/v1/webhooks/polar", polar.valid(body, at=clock.now()))
        assert (response.status_code, response.json()) == (202, {"status": "ignored"})
    assert await backend.counts() == before


@pytest.mark.parametrize("kind", ["bad_signature", "stale", "future"])
async def test_a_bad_or_stale_signature_is_401_and_changes_nothing(
    client, alice_id, polar, clock, backend, kind
) -> None:
    before = await backend.counts()
    delivery = getattr(polar, kind)(order_paid(external_id=alice_id), at=clock.now())

    response = await deliver(client, "/v1/webhooks/polar", delivery)

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-signature"
    assert await backend.counts() == before


async def test_a_missing_signature_header_is_401(client, alice_id, polar, clock) -> None:
    delivery = polar.valid(order_paid(external_id=alice_id), at=clock.now())
    response = await deliver(client, "/v1/webhooks/polar", delivery.without("webhook-signature"))
    assert response.status_code == 401


async def test_a_rotated_secret_with_two_signatures_is_accepted(client, alice_id, clock) -> None:
    sender = WebhookSender.polar()
    old = "whsec_" + "b2xkLXNlY3JldC1ub3QtY29uZmlndXJlZC0wMTIz"
    body = order_paid(external_id=alice_id, user_id=alice_id)
    delivery = sender.rotated(body, at=clock.now(), old=old, new=sender.secret)
    response = await deliver(client, "/v1/webhooks/polar", delivery)
    assert response.json() == {"status": "processed"}


async def test_a_signed_body_that_is_not_json_is_400(client, polar, clock, backend) -> None:
    before = await backend.counts()
    response = await deliver(
        client, "/v1/webhooks/polar", polar.valid(b"{not json", at=clock.now())
    )
    assert response.status_code == 400
    assert await backend.counts() == before


def clerk_user(event_type: str, user_id: str, **data) -> bytes:
    payload = {"id": user_id, "object": "user", "updated_at": 1767225700000, **data}
    return json.dumps({"type": event_type, "object": "event", "data": payload}).encode()


async def test_clerk_user_created_provisions_with_the_welcome_grant_once(
    client, alice, alice_id, clerk, clock
) -> None:
    body = clerk_user("user.created", alice_id, username="ada", first_name="Ada", last_name="Varga")
    created = await deliver(client, "/v1/webhooks/clerk", clerk.valid(body, at=clock.now()))
    again = await deliver(client, "/v1/webhooks/clerk", clerk.valid(body, at=clock.now()))

    assert created.json() == {"status": "processed"}
    assert again.status_code == 200
    me = (await client.get("/v1/me", headers=alice)).json()
    assert (me["username"], me["display_name"]) == ("ada", "Ada Varga")
    assert me["balance"]["purchased"] == 20


async def test_clerk_user_deleted_rejects_the_users_tokens(client, alice, alice_id, clerk, clock):
    await client.get("/v1/me", headers=alice)
    body = json.dumps(
        {"type": "user.deleted", "data": {"id": alice_id, "object": "user", "deleted": True}}
    ).encode()

    response = await deliver(client, "/v1/webhooks/clerk", clerk.valid(body, at=clock.now()))

    assert response.json() == {"status": "processed"}
    after = await client.get("/v1/me", headers=alice)
    assert after.json()["type"] == "/problems/account-deleted"


async def test_a_polar_signature_is_no_good_on_the_clerk_endpoint(client, alice_id, polar, clock):
    body = clerk_user("user.created", alice_id)
    response = await deliver(client, "/v1/webhooks/clerk", polar.valid(body, at=clock.now()))
    assert response.status_code == 401
