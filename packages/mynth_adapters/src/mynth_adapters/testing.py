"""`fake_container()`: the real wiring over the core's in-memory fakes, for HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import punq

from mynth_adapters.bootstrap import (
    pack_catalogue,
    register_billing,
    register_generation,
    register_images,
)
from mynth_adapters.health import Readiness
from mynth_adapters.offline import OfflineChatModel
from mynth_adapters.settings import Settings
from mynth_adapters.usecases import USE_CASES
from mynth_core.billing import BillingProvider
from mynth_core.clock import Clock
from mynth_core.generation.ports import ChatModel
from mynth_core.identity import IdentityVerifier
from mynth_core.ids import IdFactory
from mynth_core.images.ports import BlobStore, ImageGenerator
from mynth_core.ledger.services import LedgerPolicy
from mynth_core.limits import RateLimiter
from mynth_core.pricing import PriceTable
from mynth_core.testing import (
    FakeBillingProvider,
    FakeIdentityVerifier,
    FakeRateLimiter,
    FakeUnitOfWorkFactory,
    FrozenClock,
    SequentialIdFactory,
)
from mynth_core.testing.images import InMemoryBlobStore, ScriptedImageGenerator
from mynth_core.uow import UnitOfWorkFactory
from mynth_core.users import RecentUsers


def fake_container(  # noqa: PLR0913 - one optional override per port
    *,
    uow: FakeUnitOfWorkFactory | None = None,
    clock: FrozenClock | None = None,
    ids: SequentialIdFactory | None = None,
    verifier: IdentityVerifier | None = None,
    readiness: Readiness | None = None,
    recent_users: RecentUsers | None = None,
    settings: Settings | None = None,
    billing: BillingProvider | None = None,
    chat_model: ChatModel | None = None,
    limiter: RateLimiter | None = None,
    images: ImageGenerator | None = None,
    blobs: BlobStore | None = None,
) -> punq.Container:
    """A container whose ports are fakes; pass any of them in to inspect or steer it.

    `settings` supplies what fakes cannot: webhook secrets, Polar products, success URL.
    The chat model defaults to the offline generator (deterministic, no network).
    """
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=uow or FakeUnitOfWorkFactory())
    clock = clock or FrozenClock()
    container.register(Clock, instance=clock)
    container.register(IdFactory, instance=ids or SequentialIdFactory())
    container.register(IdentityVerifier, instance=verifier or FakeIdentityVerifier())
    container.register(Readiness, instance=readiness or Readiness())
    container.register(RecentUsers, instance=recent_users or RecentUsers(clock))
    container.register(RateLimiter, instance=limiter or FakeRateLimiter(clock))
    container.register(LedgerPolicy, instance=LedgerPolicy())
    container.register(PriceTable, instance=PriceTable())
    register_generation(container, chat_model or OfflineChatModel())
    register_images(
        container,
        generator=images or ScriptedImageGenerator(),
        blobs=blobs or InMemoryBlobStore(),
    )
    for use_case in USE_CASES:
        container.register(use_case, scope=punq.Scope.singleton)
    settings = settings or Settings.embedded(Path(".mynth"))
    catalogue = pack_catalogue(settings, container.resolve(PriceTable))
    register_billing(container, settings, catalogue, billing or FakeBillingProvider())
    return container


@asynccontextmanager
async def fake_bootstrap(container: punq.Container) -> AsyncIterator[punq.Container]:
    """Adapt a ready container to the `bootstrap(settings)` shape `create_app` expects."""
    yield container
