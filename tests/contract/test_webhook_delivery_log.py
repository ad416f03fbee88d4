"""WebhookDeliveryLog contract: a delivery id is recorded once per source, with its unit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from mynth_core.uow import UnitOfWorkFactory
from mynth_core.webhooks import CLERK, POLAR

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


async def record(uow_factory: UnitOfWorkFactory, delivery: str, source: str = POLAR) -> bool:
    async with uow_factory() as uow:
        new = await uow.deliveries.record(source, delivery, at=T0)
        await uow.commit()
    return new


async def seen(uow_factory: UnitOfWorkFactory, delivery: str, source: str = POLAR) -> bool:
    async with uow_factory(read_only=True) as uow:
        return await uow.deliveries.seen(source, delivery)


async def test_a_delivery_id_is_new_once_per_source(uow_factory) -> None:
    assert await record(uow_factory, "msg_1")
    assert not await record(uow_factory, "msg_1")
    assert await record(uow_factory, "msg_1", CLERK)

    assert await seen(uow_factory, "msg_1")
    assert not await seen(uow_factory, "msg_2")


async def test_a_recording_that_is_rolled_back_is_forgotten(uow_factory) -> None:
    async with uow_factory() as uow:
        assert await uow.deliveries.record(POLAR, "msg_1", at=T0)

    assert not await seen(uow_factory, "msg_1")
    assert await record(uow_factory, "msg_1")


async def test_concurrent_recordings_of_one_id_admit_exactly_one(uow_factory) -> None:
    results = await asyncio.gather(*(record(uow_factory, "msg_1") for _ in range(10)))

    assert results.count(True) == 1
