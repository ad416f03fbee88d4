"""Fixtures for the identity adapters: Clerk keys, a fake Clerk on 127.0.0.1, a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import attrs
import httpx
import pytest

from mynth_adapters.auth import JwksKeySource, JwtIdentityVerifier
from mynth_core.testing import FrozenClock
from providers.clerk import ClerkKey, FakeClerk

# Far from the wall clock on purpose: a token valid "now" here is not valid for time.time().
T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


@attrs.frozen
class Keys:
    primary: ClerkKey  # published from the start
    rotated: ClerkKey  # published later (rotation)
    stranger: ClerkKey  # never published


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        primary=ClerkKey.generate("ins_primary"),
        rotated=ClerkKey.generate("ins_rotated"),
        stranger=ClerkKey.generate("ins_stranger"),
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(scope="session")
def clerk_server(keys: Keys) -> Iterator[FakeClerk]:
    with FakeClerk.running([keys.primary]) as fake:
        yield fake


@pytest.fixture
def clerk(clerk_server: FakeClerk, keys: Keys) -> FakeClerk:
    """The session's fake Clerk, publishing only the primary key, with no history."""
    clerk_server.reset([keys.primary])
    return clerk_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    timeout = httpx.Timeout(connect=2, read=3, write=3, pool=2)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        yield client


@pytest.fixture
def jwks(http: httpx.AsyncClient, clerk: FakeClerk, clock: FrozenClock) -> JwksKeySource:
    return JwksKeySource(client=http, url=clerk.jwks_url, clock=clock, timeout=0.5)


@pytest.fixture
def verifier(jwks: JwksKeySource, clerk: FakeClerk, clock: FrozenClock) -> JwtIdentityVerifier:
    return JwtIdentityVerifier(keys=jwks, issuer=clerk.issuer, clock=clock)


@pytest.fixture
def mint(keys: Keys, clerk: FakeClerk, clock: FrozenClock) -> Callable[..., str]:
    """Mint a token from the fake Clerk as of the clock's current time."""

    def mint(key: ClerkKey | None = None, **fields: object) -> str:
        return clerk.tokens(key or keys.primary, now=clock.now()).mint(**fields)  # type: ignore[arg-type]

    return mint
