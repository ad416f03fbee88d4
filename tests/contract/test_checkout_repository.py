"""CheckoutRepository contract: sessions are recorded once and marked paid once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mynth_core.billing.ports import CheckoutSession, CheckoutStatus
from mynth_core.errors import ConflictError
from mynth_core.ids import UserId
from mynth_core.uow import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
SESSION = CheckoutSession(id="chk_1", user_id=UserId("alice"), pack_id="pack_500", created_at=T0)


async def add(uow_factory: UnitOfWorkFactory, session: CheckoutSession = SESSION) -> None:
    async with uow_factory() as uow:
        await uow.checkouts.add(session)
        await uow.commit()


async def get(uow_factory: UnitOfWorkFactory, checkout_id: str = "chk_1") -> CheckoutSession | None:
    async with uow_factory(read_only=True) as uow:
        return await uow.checkouts.get(checkout_id)


async def mark_paid(uow_factory: UnitOfWorkFactory, checkout_id: str, order_id: str) -> bool:
    async with uow_factory() as uow:
        marked = await uow.checkouts.mark_paid(
            checkout_id, order_id=order_id, at=T0 + timedelta(minutes=3)
        )
        await uow.commit()
    return marked


async def test_a_recorded_session_reads_back_open(uow_factory) -> None:
    await add(uow_factory)

    assert await get(uow_factory) == SESSION
    assert await get(uow_factory, "chk_unknown") is None


async def test_a_session_id_is_recorded_only_once(uow_factory) -> None:
    await add(uow_factory)

    with pytest.raises(ConflictError):
        await add(uow_factory)


async def test_marking_paid_keeps_the_first_order(uow_factory) -> None:
    await add(uow_factory)

    assert await mark_paid(uow_factory, "chk_1", "ord_1")
    assert not await mark_paid(uow_factory, "chk_1", "ord_2")

    assert await get(uow_factory) == CheckoutSession(
        id="chk_1",
        user_id=UserId("alice"),
        pack_id="pack_500",
        created_at=T0,
        status=CheckoutStatus.PAID,
        order_id="ord_1",
        paid_at=T0 + timedelta(minutes=3),
    )


async def test_marking_an_unknown_session_paid_changes_nothing(uow_factory) -> None:
    assert not await mark_paid(uow_factory, "chk_elsewhere", "ord_1")
    assert await get(uow_factory, "chk_elsewhere") is None
