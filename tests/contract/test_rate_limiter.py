"""The RateLimiter contract: the fake, the memory store and Redis (marked) behave alike.

Time comes from a FrozenClock in every backend (the Redis script is given the clock's time),
so the window can be slid exactly. Each Redis test works under a key prefix of its own and
deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TypeAlias

import pytest

from mynth_adapters.ratelimit import MemoryRateLimiter, RedisRateLimiter, redis_client
from mynth_core.errors import ServiceUnavailableError
from mynth_core.limits import (
    CREATION,
    PERSONA_GENERATE_ANONYMOUS,
    RateLimit,
    RateLimiter,
    decide,
)
from mynth_core.testing import FrozenClock
from mynth_core.testing.limits import FakeRateLimiter

REDIS_URL_ENV = "MYNTH_TEST_REDIS_URL"

MINUTE = RateLimit("test_minute", 3, timedelta(seconds=60))

NewLimiter: TypeAlias = Callable[[], RateLimiter]


def redis_url() -> str:
    """The test Redis URL; skips the test when it is unset (fails it under CI)."""
    url = os.environ.get(REDIS_URL_ENV, "").strip()
    if not url:
        reason = f"{REDIS_URL_ENV} is not set"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{reason}, and CI needs the Redis tests to run")
        pytest.skip(reason)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def fake_limiters(clock: FrozenClock) -> NewLimiter:
    limiter = FakeRateLimiter(clock)
    return lambda: limiter


@pytest.fixture
def memory_limiters(clock: FrozenClock) -> NewLimiter:
    limiter = MemoryRateLimiter(clock)
    return lambda: limiter


@pytest.fixture
async def redis_limiters(clock: FrozenClock) -> AsyncIterator[NewLimiter]:
    """Each call: a new RedisRateLimiter on a new client, all sharing this test's prefix."""
    url = redis_url()
    prefix = f"mynth:test:{secrets.token_hex(6)}:"
    clients = [redis_client(url)]
    try:
        await clients[0].ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis reads the same
        await clients[0].aclose()
        pytest.fail(f"Redis at {REDIS_URL_ENV} is unusable: {exc!r}")

    limiters: list[RedisRateLimiter] = []

    def new() -> RateLimiter:
        client = redis_client(url) if limiters else clients[0]
        if limiters:
            clients.append(client)
        limiters.append(RedisRateLimiter(client, clock, prefix=prefix))
        return limiters[-1]

    try:
        yield new
    finally:
        keys = [key async for key in clients[0].scan_iter(match=f"{prefix}*")]
        if keys:
            await clients[0].delete(*keys)
        for client in clients:
            await client.aclose()


BACKENDS = [
    pytest.param("fake_limiters", id="fake"),
    pytest.param("memory_limiters", id="memory"),
    pytest.param("redis_limiters", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
def limiters(request: pytest.FixtureRequest) -> NewLimiter:
    """Makes limiters over one empty store, once per backend."""
    new: NewLimiter = request.getfixturevalue(request.param)
    return new


@pytest.fixture
def limiter(limiters: NewLimiter) -> RateLimiter:
    return limiters()


async def test_admits_up_to_the_limit_then_rejects(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("alice", MINUTE) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    assert [d.retry_after_seconds for d in decisions] == [None, None, None, 60]


async def test_rejected_requests_do_not_count(limiter: RateLimiter, clock: FrozenClock) -> None:
    rule = RateLimit("test_two", 2, timedelta(seconds=10))
    assert (await limiter.hit("alice", rule)).allowed  # t=0
    clock.advance(seconds=5)
    assert (await limiter.hit("alice", rule)).allowed  # t=5
    for _ in range(4):  # t=6..9: rejected, and they must not push the window back
        clock.advance(seconds=1)
        assert not (await limiter.hit("alice", rule)).allowed

    clock.advance(seconds=1)  # t=10: the t=0 hit left
    assert (await limiter.hit("alice", rule)).allowed
    clock.advance(seconds=4.999)
    assert not (await limiter.hit("alice", rule)).allowed
    clock.advance(milliseconds=1)  # t=15: the t=5 hit left
    assert (await limiter.hit("alice", rule)).allowed


async def test_a_slot_frees_exactly_when_the_oldest_admitted_hit_leaves_the_window(
    limiter: RateLimiter, clock: FrozenClock
) -> None:
    rule = RateLimit("test_one", 1, timedelta(seconds=60))
    await limiter.hit("alice", rule)

    clock.advance(seconds=59.999)
    early = await limiter.hit("alice", rule)
    assert not early.allowed
    assert early.retry_after_seconds == 1
    assert early.reset_after_seconds == 1

    clock.advance(milliseconds=1)
    assert (await limiter.hit("alice", rule)).allowed


async def test_remaining_and_reset_follow_the_oldest_admitted_hit(
    limiter: RateLimiter, clock: FrozenClock
) -> None:
    first = await limiter.hit("alice", MINUTE)  # t=0
    clock.advance(seconds=20)
    second = await limiter.hit("alice", MINUTE)  # t=20
    clock.advance(seconds=10.5)
    third = await limiter.hit("alice", MINUTE)  # t=30.5
    clock.advance(seconds=0.5)
    rejected = await limiter.hit("alice", MINUTE)  # t=31
    clock.advance(seconds=29)
    after_first_left = await limiter.hit("alice", MINUTE)  # t=60

    assert (first.remaining, first.reset_after_seconds) == (2, 60)
    assert (second.remaining, second.reset_after_seconds) == (1, 40)
    assert (third.remaining, third.reset_after_seconds) == (0, 30)  # 29.5 s, rounded up
    assert (rejected.remaining, rejected.reset_after_seconds) == (0, 29)
    assert rejected.retry_after_seconds == 29
    assert after_first_left.allowed
    # the t=20 hit is now the oldest
    assert (after_first_left.remaining, after_first_left.reset_after_seconds) == (0, 20)


async def test_keys_and_buckets_are_independent(limiter: RateLimiter) -> None:
    other_bucket = RateLimit("test_other", 3, timedelta(seconds=60))
    for _ in range(3):
        await limiter.hit("alice", MINUTE)

    assert not (await limiter.hit("alice", MINUTE)).allowed
    bob = await limiter.hit("bob", MINUTE)
    assert (bob.allowed, bob.remaining) == (True, 2)
    other = await limiter.hit("alice", other_bucket)
    assert (other.allowed, other.remaining) == (True, 2)


async def test_concurrent_hits_admit_exactly_the_limit(limiter: RateLimiter) -> None:
    rule = RateLimit("test_burst", 10, timedelta(hours=1))

    decisions = await asyncio.gather(*(limiter.hit("alice", rule) for _ in range(50)))

    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


@pytest.mark.redis
async def test_two_redis_instances_share_one_budget(redis_limiters: NewLimiter) -> None:
    one, two = redis_limiters(), redis_limiters()
    rule = RateLimit("test_shared", 4, timedelta(hours=1))

    decisions = [await (one if i % 2 else two).hit("alice", rule) for i in range(6)]
    burst = await asyncio.gather(*(lim.hit("bob", rule) for lim in (one, two) * 10))

    assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
    assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
    assert sum(d.allowed for d in burst) == 4


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def fake_unreachable(clock: FrozenClock) -> FakeRateLimiter:
    return FakeRateLimiter(clock, unreachable=True)


@pytest.fixture
async def redis_unreachable(clock: FrozenClock) -> AsyncIterator[RedisRateLimiter]:
    client = redis_client(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        yield RedisRateLimiter(client, clock, prefix=f"mynth:test:{secrets.token_hex(6)}:")
    finally:
        await client.aclose()


@pytest.fixture(
    params=[
        pytest.param("fake_unreachable", id="fake"),
        pytest.param("redis_unreachable", id="redis-closed-port"),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> RateLimiter:
    """A limiter whose store cannot be reached (Redis: a client on a closed port)."""
    limiter: RateLimiter = request.getfixturevalue(request.param)
    return limiter


async def test_an_unreachable_store_raises_service_unavailable(unreachable: RateLimiter) -> None:
    with pytest.raises(ServiceUnavailableError):
        await unreachable.hit("alice", MINUTE)


async def test_the_anonymous_bucket_fails_closed_when_the_store_is_down(
    unreachable: RateLimiter,
) -> None:
    with pytest.raises(ServiceUnavailableError):
        await decide(unreachable, "203.0.113.7", PERSONA_GENERATE_ANONYMOUS)


async def test_the_creation_bucket_fails_open_when_the_store_is_down(
    unreachable: RateLimiter,
) -> None:
    decision = await decide(unreachable, "alice", CREATION)

    assert decision.allowed
    assert decision.limit == 100
