"""order.paid and Clerk deliveries end to end on every backend, including concurrent ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ledgerkit import ALICE, LedgerWorld
from mynth_core.billing import OrderPaid, PackCatalogue, PackId
from mynth_core.billing.ports import CheckoutSession, CheckoutStatus
from mynth_core.billing.services import HandleOrderPaid
from mynth_core.identity_events import ClerkUserDeleted, ClerkUserUpserted
from mynth_core.ledger.model import EntryKind
from mynth_core.testing import an_order
from mynth_core.users import DeleteUser, RecentUsers, SyncClerkUser
from mynth_core.webhooks import WebhookOutcome

CATALOGUE = PackCatalogue(products=((PackId("pack_500"), "prod_500"),))


def handler(world: LedgerWorld) -> HandleOrderPaid:
    return HandleOrderPaid(world.uow, CATALOGUE, world.clock, world.ids, world.policy)


async def test_fifty_concurrent_deliveries_of_one_order_credit_once(uow_factory) -> None:
    world = LedgerWorld(uow=uow_factory)
    async with uow_factory() as uow:
        await uow.checkouts.add(
            CheckoutSession(
                id="chk_0001", user_id=ALICE, pack_id="pack_500", created_at=world.clock.now()
            )
        )
        await uow.commit()
    pay = handler(world)

    outcomes = await asyncio.gather(*(pay(f"msg_{n}", OrderPaid(an_order())) for n in range(50)))

    assert outcomes.count(WebhookOutcome.PROCESSED) == 1
    assert outcomes.count(WebhookOutcome.DUPLICATE) == 49
    kinds = [e.kind for e in await world.entries()]
    assert kinds == [EntryKind.DAILY_FREE, EntryKind.GRANT, EntryKind.PURCHASE]
    assert (await world.balance()).purchased == 520
    async with uow_factory(read_only=True) as uow:
        checkout = await uow.checkouts.get("chk_0001")
        assert all([await uow.deliveries.seen("polar", f"msg_{n}") for n in range(50)])
    assert checkout is not None
    assert (checkout.status, checkout.order_id) == (CheckoutStatus.PAID, "ord_1")


async def test_concurrent_replays_of_one_delivery_id_credit_once(uow_factory) -> None:
    world = LedgerWorld(uow=uow_factory)
    pay = handler(world)

    outcomes = await asyncio.gather(*(pay("msg_1", OrderPaid(an_order())) for _ in range(10)))

    assert outcomes.count(WebhookOutcome.PROCESSED) == 1
    assert (await world.balance()).purchased == 520


async def test_clerk_created_updated_and_deleted_apply_on_every_backend(uow_factory) -> None:
    world = LedgerWorld(uow=uow_factory)
    recent = RecentUsers(world.clock)
    sync = SyncClerkUser(uow_factory, world.clock, recent, world.ids)
    at = datetime(2026, 1, 1, 11, tzinfo=UTC)

    created = ClerkUserUpserted(user_id=ALICE, username="alice", updated_at=at)
    assert await sync("msg_1", created) is WebhookOutcome.PROCESSED
    assert await sync("msg_1", created) is WebhookOutcome.DUPLICATE
    assert (
        await DeleteUser(uow_factory, world.clock, recent)("msg_2", ClerkUserDeleted(ALICE))
        is WebhookOutcome.PROCESSED
    )
    late = ClerkUserUpserted(user_id=ALICE, username="again", updated_at=at)
    assert await sync("msg_3", late) is WebhookOutcome.IGNORED

    async with uow_factory(read_only=True) as uow:
        user = await uow.users.get(ALICE)
    assert user is not None
    assert (user.username, user.deleted_at) == ("alice", world.clock.now())
    assert [e.kind for e in await world.entries()] == [EntryKind.DAILY_FREE, EntryKind.GRANT]
