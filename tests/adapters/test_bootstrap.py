"""The composition root: what `bootstrap(settings)` wires for each configuration."""

from __future__ import annotations

import os
import socket

import attrs
import pytest

from mynth_adapters.bootstrap import bootstrap
from mynth_adapters.health import Readiness
from mynth_adapters.ratelimit import MemoryRateLimiter, RedisRateLimiter
from mynth_adapters.settings import Settings
from mynth_core.limits import RateLimiter


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_embedded_default_keeps_rate_limits_in_memory_and_is_ready(tmp_path) -> None:
    async with bootstrap(Settings.embedded(tmp_path)) as container:
        assert isinstance(container.resolve(RateLimiter), MemoryRateLimiter)
        assert await container.resolve(Readiness)() == {"database": True}


async def test_an_unreachable_redis_makes_the_instance_not_ready(tmp_path) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings = attrs.evolve(Settings.embedded(tmp_path), redis_url=url)
    async with bootstrap(settings) as container:
        assert isinstance(container.resolve(RateLimiter), RedisRateLimiter)
        assert await container.resolve(Readiness)() == {"database": True, "redis": False}


@pytest.mark.redis
async def test_a_reachable_redis_is_ready(tmp_path) -> None:
    url = os.environ.get("MYNTH_TEST_REDIS_URL")
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("MYNTH_TEST_REDIS_URL is not set")
        pytest.skip("MYNTH_TEST_REDIS_URL is not set")
    settings = attrs.evolve(Settings.embedded(tmp_path), redis_url=url)
    async with bootstrap(settings) as container:
        assert await container.resolve(Readiness)() == {"database": True, "redis": True}
