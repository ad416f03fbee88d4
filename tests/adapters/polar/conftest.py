"""Fixtures for the Polar adapter: one fake Polar per session, clients with short timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from mynth_adapters.http_client import RetryPolicy, provider_client
from mynth_adapters.polar import PolarBillingProvider
from mynth_core.billing import PackCatalogue, PackId
from mynth_core.testing import FrozenClock
from providers.polar import FAKE_ACCESS_TOKEN, PRODUCTS, FakePolar
from providers.webhooks import T0

# Short phases so a scripted slow reply times out fast; the real ones are CHECKOUT_TIMEOUT.
TIMEOUT = httpx.Timeout(connect=1, read=0.3, write=1, pool=1)
# Waits in the milliseconds: the schedule's shape is under test, not its length.
FAST_RETRY = RetryPolicy(attempts=3, budget=5, backoff_min=0.001, backoff_max=0.005)
CATALOGUE = PackCatalogue(products=tuple((PackId(k), v) for k, v in PRODUCTS.items()))


@pytest.fixture(scope="session")
def polar_server() -> Iterator[FakePolar]:
    with FakePolar.running() as fake:
        yield fake


@pytest.fixture
def polar(polar_server: FakePolar) -> FakePolar:
    """The session's fake Polar with no scripted replies and no history."""
    polar_server.reset()
    return polar_server


@pytest.fixture
async def http(polar: FakePolar) -> AsyncIterator[httpx.AsyncClient]:
    async with provider_client(polar.base_url, TIMEOUT) as client:
        yield client


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def make_billing(
    http: httpx.AsyncClient, clock: FrozenClock
) -> Callable[..., PolarBillingProvider]:
    """A PolarBillingProvider on the fake, fast retries; keywords override any field."""

    def make(**fields: object) -> PolarBillingProvider:
        defaults: dict[str, object] = {
            "client": http,
            "access_token": FAKE_ACCESS_TOKEN,
            "catalogue": CATALOGUE,
            "retry": FAST_RETRY,
            "clock": clock,
        }
        return PolarBillingProvider(**(defaults | fields))  # type: ignore[arg-type]

    return make


@pytest.fixture
def billing(make_billing: Callable[..., PolarBillingProvider]) -> PolarBillingProvider:
    return make_billing()
