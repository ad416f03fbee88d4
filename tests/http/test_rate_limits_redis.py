"""The Redis rate limiter shared by two app instances (needs Redis: `nox -s tests_redis`)."""

from __future__ import annotations

import os
import secrets
from contextlib import AsyncExitStack

import attrs
import httpx
import pytest

from mynth_adapters.bootstrap import bootstrap
from mynth_http.app import create_app

pytestmark = pytest.mark.redis

GENERATE = "/v1/personas/generate"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("MYNTH_TEST_REDIS_URL")
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("MYNTH_TEST_REDIS_URL is not set")
        pytest.skip("MYNTH_TEST_REDIS_URL is not set")
    return url


async def test_two_instances_share_the_anonymous_bucket_through_redis(settings, redis_url) -> None:
    shared = attrs.evolve(settings, redis_url=redis_url)
    # A fresh /64 per run: Redis keeps the window of earlier runs for an hour.
    network = f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}"
    async with AsyncExitStack() as stack:
        peers = []
        for index in range(2):
            app = create_app(shared, bootstrap=bootstrap)
            await stack.enter_async_context(app.lifespan())  # in this loop, like the requests
            transport = httpx.ASGITransport(app=app, client=(f"{network}::{index + 1}", 40000))
            peers.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://testserver")
                )
            )

        answers = [
            await peers[n % 2].post(GENERATE, json={"prompt": "a keeper"}) for n in range(10)
        ]
        refused = [await peer.post(GENERATE, json={"prompt": "a keeper"}) for peer in peers]

    assert [a.status_code for a in answers] == [200] * 10
    assert [r.status_code for r in refused] == [429, 429]
    assert answers[-1].headers["ratelimit-remaining"] == "0"
