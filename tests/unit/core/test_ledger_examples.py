"""The worked examples of PRODUCT.md §8.1-8.4 and §8.8, through the ledger use cases."""

from __future__ import annotations

import pytest

from ledgerkit import ALICE, BOB, LedgerWorld, utc
from mynth_core.errors import InsufficientTokensError
from mynth_core.ledger.model import EntryKind, TokenAmount
from mynth_core.ledger.services import LedgerPolicy


@pytest.fixture
def world() -> LedgerWorld:
    return LedgerWorld()


async def alice_with_free_2_and_purchased_40(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T09:00:00")
    await world.buy(40, "ord_1")
    await world.spend(8, "warm-up")
    world.clock.at = utc("2025-03-01T14:00:00")


async def test_a_spend_takes_free_first_and_splits_into_purchased(world: LedgerWorld) -> None:
    await alice_with_free_2_and_purchased_40(world)

    spend = await world.spend(5, "high-image")

    assert (spend.kind, spend.amount, spend.free_part, spend.purchased_part) == (
        EntryKind.SPEND, -5, -2, -3,
    )  # fmt: skip
    assert (spend.free_remaining_after, spend.purchased_after, spend.balance_after) == (0, 37, 37)
    assert (await world.balance()).total == 37


async def test_a_same_day_refund_returns_each_part_to_its_bucket(world: LedgerWorld) -> None:
    await alice_with_free_2_and_purchased_40(world)
    spend = await world.spend(5, "high-image")
    world.clock.at = utc("2025-03-01T14:01:00")

    refund = await world.refund("high-image")

    assert (refund.kind, refund.amount, refund.free_part, refund.purchased_part) == (
        EntryKind.REFUND, 5, 2, 3,
    )  # fmt: skip
    assert refund.refund_of == spend.id
    assert refund.idempotency_key == f"refund:{spend.id}"
    assert refund.forfeited_free == 0
    assert (await world.balance()).total == 42


async def test_a_refund_after_midnight_forfeits_the_free_part(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T08:00:00")
    await world.buy(100, "ord_bob", user=BOB)
    await world.spend(6, "earlier", user=BOB)
    world.clock.at = utc("2025-03-01T23:59:30")
    spend = await world.spend(5, "late-image", user=BOB)
    assert (spend.free_part, spend.purchased_part, spend.purchased_after) == (-4, -1, 99)
    world.clock.at = utc("2025-03-02T00:00:40")

    refund = await world.refund("late-image")

    daily, last = (await world.entries(BOB))[-2:]
    assert (daily.kind, daily.amount, daily.idempotency_key) == (
        EntryKind.DAILY_FREE, 10, "daily_free:bob:2025-03-02",
    )  # fmt: skip
    assert last == refund
    assert (refund.amount, refund.free_part, refund.purchased_part, refund.forfeited_free) == (
        1, 0, 1, 4,
    )  # fmt: skip
    balance = await world.balance(BOB)
    assert (balance.daily_free_remaining, balance.purchased, balance.total) == (10, 100, 110)


async def test_the_balance_view_shows_the_allowance_and_the_next_reset(
    world: LedgerWorld,
) -> None:
    world.clock.at = utc("2025-03-01T10:00:00")
    await world.buy(37, "ord_1")
    await world.spend(3, "three-free")
    world.clock.at = utc("2025-03-01T17:45:00")

    balance = await world.balance()

    assert (
        balance.daily_free_allowance,
        balance.daily_free_remaining,
        balance.daily_resets_at,
        balance.purchased,
        balance.total,
    ) == (10, 7, utc("2025-03-02T00:00:00"), 37, 44)


async def test_the_last_millisecond_of_a_day_uses_that_days_allowance(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T23:59:59.999")
    await world.spend(10, "last-ms")
    assert (await world.balance()).total == 0
    world.clock.at = utc("2025-03-02T00:00:00.000")

    spend = await world.spend(1, "first-ms")

    assert spend.free_remaining_after == 9
    assert (await world.entries())[-2].idempotency_key == "daily_free:alice:2025-03-02"


async def test_spending_everything_at_23_50_gives_ten_new_tokens_ten_minutes_later(
    world: LedgerWorld,
) -> None:
    world.clock.at = utc("2025-03-01T23:50:00")
    await world.spend(10, "all-of-it")
    assert (await world.balance()).daily_free_remaining == 0
    world.clock.advance(minutes=10)
    assert (await world.balance()).daily_free_remaining == 10


async def test_unused_free_tokens_never_carry_over(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T12:00:00")
    await world.spend(1, "one")
    world.clock.advance(days=3)
    assert (await world.balance()).daily_free_remaining == 10
    assert (await world.spend(3, "three")).free_remaining_after == 7


async def test_a_charge_above_the_total_takes_nothing(world: LedgerWorld) -> None:
    await world.buy(2, "ord_1")
    before = await world.entries()

    with pytest.raises(InsufficientTokensError) as raised:
        await world.spend(13, "too-much")

    assert (raised.value.required, raised.value.available) == (13, 12)
    assert await world.entries() == before


async def test_a_zero_cost_operation_writes_no_entry(world: LedgerWorld) -> None:
    assert await world.charge(ALICE, "persona_clone", TokenAmount(0), key="free-op") is None
    assert await world.entries() == []


async def test_a_replayed_charge_returns_the_first_spend_and_charges_once(
    world: LedgerWorld,
) -> None:
    first = await world.spend(3, "idem-1")
    world.clock.advance(days=1)

    assert await world.spend(3, "idem-1") == first
    assert len(await world.entries()) == 2  # the first day's daily_free and the spend
    assert (await world.balance()).total == 10


async def test_a_spend_is_refunded_at_most_once(world: LedgerWorld) -> None:
    await world.buy(50, "ord_1")
    await world.spend(20, "big")
    first = await world.refund("big")

    assert await world.refund("big") == first
    assert (await world.balance()).total == 60


async def test_the_welcome_grant_is_credited_once_into_the_purchased_bucket(
    world: LedgerWorld,
) -> None:
    first = await world.grant(ALICE)
    again = await world.grant(ALICE)

    assert first.entry is not None
    assert (first.entry.kind, first.entry.purchased_part, first.entry.idempotency_key) == (
        EntryKind.GRANT, 20, "grant:welcome:alice",
    )  # fmt: skip
    assert again.duplicate
    assert again.entry == first.entry
    assert (await world.balance()).purchased == 20


async def test_a_zero_allowance_disables_daily_free_tokens() -> None:
    world = LedgerWorld(policy=LedgerPolicy(daily_free_allowance=TokenAmount(0)))
    await world.buy(5, "ord_1")

    assert [e.kind for e in await world.entries()] == [EntryKind.PURCHASE]
    assert (await world.balance()).daily_free_remaining == 0
    with pytest.raises(InsufficientTokensError):
        await world.spend(6, "six")


async def test_a_zero_welcome_grant_writes_nothing() -> None:
    world = LedgerWorld(policy=LedgerPolicy(welcome_grant=TokenAmount(0)))
    assert (await world.grant(ALICE)).entry is None
    assert await world.entries() == []
