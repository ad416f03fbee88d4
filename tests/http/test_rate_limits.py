"""Rate limits over HTTP (PRODUCT.md §10): 429s, RateLimit-* headers, client IPs, outages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from ipaddress import ip_network

import attrs
import httpx
import pytest

from mynth_core.limits import CREATION, PERSONA_GENERATE_ANONYMOUS

GENERATE = "/v1/personas/generate"
PROMPT = {"prompt": "a keeper"}

Peer = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def from_peer(client, app) -> AsyncIterator[Peer]:
    """Clients whose socket peer is a given IP, over the app `client` started."""
    opened: list[httpx.AsyncClient] = []

    def make(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        peer = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(peer)
        return peer

    yield make
    for peer in opened:
        await peer.aclose()


async def test_anonymous_generation_allows_ten_an_hour_per_ip_then_429(from_peer, clock) -> None:
    alone, other = from_peer("198.51.100.1"), from_peer("198.51.100.2")
    answers = [await alone.post(GENERATE, json=PROMPT) for _ in range(10)]

    refused = await alone.post(GENERATE, json=PROMPT)

    assert [a.status_code for a in answers] == [200] * 10
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3600"
    assert refused.headers["ratelimit-remaining"] == "0"
    body = refused.json()
    assert body["type"] == "/problems/rate-limited"
    assert body["bucket"] == PERSONA_GENERATE_ANONYMOUS.bucket
    assert body["retry_after"] == 3600
    assert (await other.post(GENERATE, json=PROMPT)).status_code == 200
    clock.advance(hours=1)
    assert (await alone.post(GENERATE, json=PROMPT)).status_code == 200


async def test_every_answer_of_a_limited_route_carries_the_ratelimit_headers(from_peer) -> None:
    response = await from_peer("198.51.100.1").post(GENERATE, json=PROMPT)

    assert response.headers["ratelimit-limit"] == "10"
    assert response.headers["ratelimit-remaining"] == "9"
    assert response.headers["ratelimit-reset"] == "3600"
    assert response.headers["ratelimit-policy"] == "10;w=3600"


async def test_addresses_in_one_ipv6_64_share_a_bucket(from_peer) -> None:
    for suffix in range(10):
        await from_peer(f"2001:db8:1:2::{suffix + 1}").post(GENERATE, json=PROMPT)

    neighbour = await from_peer("2001:db8:1:2:ffff::1").post(GENERATE, json=PROMPT)
    elsewhere = await from_peer("2001:db8:1:3::1").post(GENERATE, json=PROMPT)

    assert neighbour.status_code == 429
    assert elsewhere.status_code == 200


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(from_peer) -> None:
    spoofer = from_peer("198.51.100.1")
    for index in range(10):
        await spoofer.post(GENERATE, json=PROMPT, headers={"X-Forwarded-For": f"203.0.113.{index}"})

    response = await spoofer.post(GENERATE, json=PROMPT, headers={"X-Forwarded-For": "192.0.2.1"})

    assert response.status_code == 429


async def test_behind_a_trusted_proxy_the_forwarded_client_is_limited(app, from_peer) -> None:
    # The handlers read the trusted proxies from the app's settings on every request.
    http = attrs.evolve(app.state.settings.http, trusted_proxies=(ip_network("10.0.0.0/8"),))
    app.state.settings = attrs.evolve(app.state.settings, http=http)
    proxy = from_peer("10.0.0.1")
    client_a = {"X-Forwarded-For": "203.0.113.7, 10.0.0.2"}  # the right-most untrusted hop
    for _ in range(10):
        await proxy.post(GENERATE, json=PROMPT, headers=client_a)

    refused = await proxy.post(GENERATE, json=PROMPT, headers=client_a)
    client_b = await proxy.post(GENERATE, json=PROMPT, headers={"X-Forwarded-For": "203.0.113.8"})

    assert refused.status_code == 429
    assert client_b.status_code == 200


async def test_a_signed_in_user_shares_one_creation_bucket_across_routes(
    client, alice, bob, new_persona, limiter
) -> None:
    persona = await new_persona(alice)
    for _ in range(CREATION.limit - 2):  # one hit was the creation above, one is the clone
        await client.post(GENERATE, json=PROMPT | {"persona_id": persona["id"]}, headers=alice)
    clone = await client.post(f"/v1/personas/{persona['id']}/clone", headers=alice)

    refused = await client.post(f"/v1/personas/{persona['id']}/enhance", json=PROMPT, headers=alice)
    other_user = await client.post(GENERATE, json=PROMPT, headers=bob)

    assert clone.status_code == 201
    assert refused.status_code == 429
    assert refused.json()["bucket"] == CREATION.bucket
    assert refused.headers["ratelimit-policy"] == "100;w=3600"
    assert other_user.status_code == 201


async def test_a_refusal_charges_nothing(client, alice, limiter) -> None:
    for _ in range(CREATION.limit):
        await limiter.hit("user_alice_5e1f", CREATION)
    before = (await client.get("/v1/me", headers=alice)).json()["balance"]["total"]

    response = await client.post(GENERATE, json=PROMPT, headers=alice)

    assert response.status_code == 429
    assert (await client.get("/v1/me", headers=alice)).json()["balance"]["total"] == before


async def test_with_the_store_down_anonymous_generation_fails_closed(from_peer, limiter) -> None:
    limiter.unreachable = True

    response = await from_peer("198.51.100.1").post(GENERATE, json=PROMPT)

    assert response.status_code == 503
    assert response.json()["type"] == "/problems/service-unavailable"


async def test_with_the_store_down_signed_in_generation_is_allowed(client, alice, limiter) -> None:
    limiter.unreachable = True

    response = await client.post(GENERATE, json=PROMPT, headers=alice)

    assert response.status_code == 201
