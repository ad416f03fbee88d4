"""TokenLedger contract: idempotent appends, guarded balances, paging; and concurrency."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from ledgerkit import ALICE, BOB, PRICES, LedgerWorld, utc
from mynth_core.errors import ConflictError, InsufficientTokensError, ValidationError
from mynth_core.ledger.model import (
    Account,
    EntryKind,
    LedgerEntry,
    LedgerEntryId,
    Posting,
    Reference,
    TokenAmount,
)
from mynth_core.ledger.services import LedgerPolicy
from mynth_core.pagination import PageRequest
from mynth_core.testing import a_persona
from mynth_core.uow import UnitOfWorkFactory

T0 = utc("2026-03-01T09:30:15.123")


GENERATIONS = ("persona_generate", "persona_enhance")


def a_posting(n: int, key: str | None = None, **fields) -> Posting:
    return Posting(id=LedgerEntryId(f"ltx_{n:04d}"), key=key or f"key-{n}", at=T0, **fields)


@pytest.fixture
def world(uow_factory: UnitOfWorkFactory) -> LedgerWorld:
    world = LedgerWorld(uow=uow_factory)
    world.clock.at = T0
    return world


async def test_an_unknown_user_has_an_empty_account(uow_factory) -> None:
    async with uow_factory(read_only=True) as uow:
        assert await uow.ledger.account(ALICE) == Account(user_id=ALICE)
        assert await uow.ledger.find("nope") is None


async def test_an_appended_entry_is_found_by_key_with_every_field(uow_factory) -> None:
    posting = a_posting(1, operation="image_generate", reference=Reference("image_job", "igj_1"))
    account, entry = Account(user_id=ALICE).credit(EntryKind.GRANT, TokenAmount(7), posting)
    async with uow_factory() as uow:
        assert await uow.ledger.append(entry) == entry
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        assert await uow.ledger.find("key-1") == entry
        assert await uow.ledger.account(ALICE) == account


async def test_replaying_an_idempotency_key_returns_the_stored_entry(uow_factory) -> None:
    _, first = Account(user_id=ALICE).credit(EntryKind.GRANT, TokenAmount(7), a_posting(1))
    _, other = Account(user_id=ALICE).credit(EntryKind.GRANT, TokenAmount(9), a_posting(2, "key-1"))
    async with uow_factory() as uow:
        await uow.ledger.append(first)
        assert await uow.ledger.append(other) == first
        assert (await uow.ledger.account(ALICE)).purchased == 7
        await uow.commit()


async def test_a_same_day_replayed_charge_returns_the_spend_and_writes_nothing(
    world: LedgerWorld,
) -> None:
    first = await world.spend(6, "idem-1")
    await world.spend(4, "idem-2")  # the balance no longer covers a second spend of 6

    assert await world.spend(6, "idem-1") == first
    posted = await world.charge.post(ALICE, "image_generate", TokenAmount(6), key="idem-1")
    assert posted.duplicate
    assert posted.entry == first
    assert len(await world.entries()) == 3  # daily_free and the two spends
    assert (await world.balance()).total == 0


async def test_a_charge_under_another_requests_key_conflicts_and_writes_nothing(
    world: LedgerWorld,
) -> None:
    await world.spend(1, "bob-key", user=BOB)
    await world.buy(5, "ord_1")
    before = await world.entries()

    with pytest.raises(ConflictError):
        await world.spend(1, "bob-key")
    with pytest.raises(ConflictError):
        await world.spend(1, "purchase:polar:ord_1")
    assert await world.entries() == before
    assert (await world.balance()).total == 15


async def test_an_entry_computed_from_a_stale_balance_is_refused(uow_factory) -> None:
    empty = Account(user_id=ALICE)
    _, first = empty.credit(EntryKind.GRANT, TokenAmount(7), a_posting(1))
    _, stale = empty.credit(EntryKind.GRANT, TokenAmount(5), a_posting(2))
    async with uow_factory() as uow:
        await uow.ledger.append(first)
        with pytest.raises(ConflictError):
            await uow.ledger.append(stale)


async def test_the_ledger_pages_newest_first(world: LedgerWorld, uow_factory) -> None:
    await world.buy(100, "ord_1")
    for n in range(4):
        await world.spend(1, f"s{n}")
    async with uow_factory(read_only=True) as uow:
        first = await uow.ledger.list_for(ALICE, PageRequest(limit=4))
        assert first.next_cursor is not None
        rest = await uow.ledger.list_for(ALICE, PageRequest(limit=4, cursor=first.next_cursor))
        assert (await uow.ledger.list_for(BOB, PageRequest())).items == ()
    keys = [e.idempotency_key for e in (*first.items, *rest.items)]
    assert keys == ["s3", "s2", "s1", "s0", "purchase:polar:ord_1", "daily_free:alice:2026-03-01"]
    assert rest.next_cursor is None


async def test_a_foreign_cursor_is_a_validation_error(uow_factory) -> None:
    async with uow_factory(read_only=True) as uow:
        with pytest.raises(ValidationError):
            await uow.ledger.list_for(ALICE, PageRequest(cursor="bm9wZQ"))


async def test_entries_are_found_by_reference(world: LedgerWorld, uow_factory) -> None:
    await world.buy(100, "ord_1")
    await world.claw_back("ord_1", refunded_amount=1, total_amount=2)
    async with uow_factory(read_only=True) as uow:
        found = await uow.ledger.for_reference(ALICE, Reference("order", "ord_1"))
    assert [e.kind for e in found] == [EntryKind.PURCHASE, EntryKind.CLAWBACK]


async def test_the_use_cases_keep_the_worked_examples(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T23:59:30")
    await world.buy(100, "ord_bob", user=BOB)
    await world.spend(6, "earlier", user=BOB)
    spend = await world.spend(5, "late", user=BOB)
    world.clock.at = utc("2025-03-02T00:00:40")

    refund = await world.refund("late")

    assert (spend.free_part, spend.purchased_part) == (-4, -1)
    assert (refund.purchased_part, refund.forfeited_free, refund.refund_of) == (1, 4, spend.id)
    assert await world.refund("late") == refund
    assert (await world.balance(BOB)).total == 110


async def test_provisioning_twice_grants_once(world: LedgerWorld) -> None:
    first = await world.grant(ALICE)
    again = await world.grant(ALICE)
    assert again.duplicate
    assert again.entry == first.entry
    assert [e.kind for e in await world.entries()] == [EntryKind.DAILY_FREE, EntryKind.GRANT]


async def test_concurrent_charges_never_overdraw(uow_factory) -> None:
    world = LedgerWorld(uow=uow_factory, policy=LedgerPolicy(daily_free_allowance=TokenAmount(0)))
    world.clock.at = T0
    await world.buy(100, "ord_1")

    async def charge(n: int) -> bool:
        try:
            await world.spend(1, f"c{n}")
        except InsufficientTokensError:
            return False
        return True

    results = await asyncio.gather(*(charge(n) for n in range(200)))

    assert results.count(True) == 100
    assert results.count(False) == 100
    assert (await world.balance()).total == 0
    assert len(await world.entries()) == 101


async def test_concurrent_deliveries_of_one_order_credit_once(world: LedgerWorld) -> None:
    pack = PRICES.pack("pack_500")
    posted = await asyncio.gather(*(world.credit_purchase(ALICE, pack, "ord_1") for _ in range(50)))
    assert sum(not p.duplicate for p in posted) == 1
    assert len({p.entry for p in posted}) == 1
    assert (await world.balance()).purchased == 500


async def a_generation_spend(
    world: LedgerWorld,
    key: str,
    *,
    operation: str = "persona_generate",
    version: str | None = None,
    user=ALICE,
) -> LedgerEntry:
    """A one-token charge like a generation's, paying for version `version` (or `prv_<key>`)."""
    reference = Reference("version", version or f"prv_{key}")
    entry = await world.charge(user, operation, TokenAmount(1), key=key, reference=reference)
    assert entry is not None
    return entry


async def unsettled_keys(
    uow_factory: UnitOfWorkFactory,
    *,
    before: datetime,
    limit: int = 100,
    since: datetime | None = None,
    operations: tuple[str, ...] = GENERATIONS,
) -> list[str]:
    async with uow_factory(read_only=True) as uow:
        found = await uow.ledger.unsettled_spends(
            operations=operations, before=before, limit=limit, since=since
        )
    return [e.idempotency_key for e in found]


async def test_an_old_unrefunded_spend_is_unsettled_with_every_field(
    world: LedgerWorld, uow_factory
) -> None:
    spend = await a_generation_spend(world, "g1", user=BOB)

    async with uow_factory(read_only=True) as uow:
        found = await uow.ledger.unsettled_spends(
            operations=GENERATIONS, before=T0 + timedelta(minutes=5), limit=10
        )

    assert found == (spend,)


async def test_a_refunded_spend_is_settled(world: LedgerWorld, uow_factory) -> None:
    await a_generation_spend(world, "refunded")
    await a_generation_spend(world, "open")
    await world.refund("refunded", reason="failed")

    assert await unsettled_keys(uow_factory, before=T0 + timedelta(minutes=5)) == ["open"]


async def test_a_spend_whose_version_was_stored_is_settled(world: LedgerWorld, uow_factory) -> None:
    persona, _ = a_persona(persona_id="prs_0001")
    async with uow_factory() as uow:
        await uow.personas.add(persona)
        await uow.commit()
    await a_generation_spend(world, "delivered", version=persona.current_version.id)
    await a_generation_spend(world, "lost", version="prv_never_written")

    assert await unsettled_keys(uow_factory, before=T0 + timedelta(minutes=5)) == ["lost"]


async def test_only_spends_made_strictly_before_the_cut_off_are_unsettled(
    world: LedgerWorld, uow_factory
) -> None:
    await a_generation_spend(world, "old")
    world.clock.advance(minutes=5)
    await a_generation_spend(world, "at-the-cut-off")
    world.clock.advance(seconds=1)
    await a_generation_spend(world, "recent")

    assert await unsettled_keys(uow_factory, before=T0 + timedelta(minutes=5)) == ["old"]
    assert await unsettled_keys(uow_factory, before=T0) == []


async def test_spends_before_since_are_left_out(world: LedgerWorld, uow_factory) -> None:
    await a_generation_spend(world, "ancient")
    world.clock.advance(hours=1)
    await a_generation_spend(world, "at-since")

    keys = await unsettled_keys(
        uow_factory, before=T0 + timedelta(hours=2), since=T0 + timedelta(hours=1)
    )

    assert keys == ["at-since"]


async def test_spends_of_other_operations_and_other_kinds_are_left_out(
    world: LedgerWorld, uow_factory
) -> None:
    await world.buy(100, "ord_1")
    await world.spend(1, "image")
    await a_generation_spend(world, "chat", operation="chat_reply")
    await a_generation_spend(world, "enhance", operation="persona_enhance")
    before = T0 + timedelta(minutes=5)

    assert await unsettled_keys(uow_factory, before=before) == ["enhance"]
    assert await unsettled_keys(uow_factory, before=before, operations=()) == []
    assert await unsettled_keys(uow_factory, before=before, operations=("image_generate",)) == [
        "image"
    ]


async def test_unsettled_spends_come_oldest_first_for_every_user_up_to_the_limit(
    world: LedgerWorld, uow_factory
) -> None:
    for n, user in enumerate([BOB, ALICE, BOB, ALICE]):
        await a_generation_spend(world, f"g{n}", user=user)
        world.clock.advance(seconds=1)
    before = T0 + timedelta(minutes=5)

    assert await unsettled_keys(uow_factory, before=before, limit=3) == ["g0", "g1", "g2"]
    assert await unsettled_keys(uow_factory, before=before) == ["g0", "g1", "g2", "g3"]
    assert await unsettled_keys(uow_factory, before=before, limit=0) == []
