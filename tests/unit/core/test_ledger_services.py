"""Purchases, clawbacks, the charged() guard, provisioning's welcome grant and the prices."""

from __future__ import annotations

import pytest

from ledgerkit import ALICE, BOB, PRICES, LedgerWorld, utc
from mynth_core.errors import ConflictError, InsufficientTokensError, ValidationError
from mynth_core.identity import Principal
from mynth_core.ledger.model import EntryKind, TokenAmount
from mynth_core.pricing import ChatMode, ImageTier, Operation, Price
from mynth_core.users import ProvisionUser, RecentUsers


@pytest.fixture
def world() -> LedgerWorld:
    return LedgerWorld()


async def test_a_paid_order_is_credited_once_per_order(world: LedgerWorld) -> None:
    first = await world.credit_purchase(ALICE, PRICES.pack("pack_500"), "ord_9")
    again = await world.credit_purchase(ALICE, PRICES.pack("pack_500"), "ord_9")

    assert first.entry is not None
    assert (first.entry.kind, first.entry.amount, first.entry.idempotency_key) == (
        EntryKind.PURCHASE, 500, "purchase:polar:ord_9",
    )  # fmt: skip
    assert again.duplicate
    assert (await world.balance()).purchased == 500


async def test_an_order_credited_to_one_user_conflicts_for_another(world: LedgerWorld) -> None:
    await world.credit_purchase(ALICE, PRICES.pack("pack_100"), "ord_9")
    with pytest.raises(ConflictError):
        await world.credit_purchase(BOB, PRICES.pack("pack_100"), "ord_9")


async def test_partial_refunds_claw_back_the_difference_to_the_target(world: LedgerWorld) -> None:
    await world.credit_purchase(ALICE, PRICES.pack("pack_100"), "ord_1")

    half = await world.claw_back("ord_1", refunded_amount=75, total_amount=149)
    rest = await world.claw_back("ord_1", refunded_amount=149, total_amount=149)

    assert half is not None
    assert rest is not None
    assert half.entry is not None
    assert rest.entry is not None
    assert half.entry.amount == -50  # floor(100 * 75 / 149)
    assert rest.entry.amount == -50
    assert rest.entry.idempotency_key == "clawback:polar:ord_1:149"
    assert (await world.balance()).purchased == 0


async def test_a_clawback_never_goes_below_zero_and_records_the_shortfall(
    world: LedgerWorld,
) -> None:
    await world.credit_purchase(ALICE, PRICES.pack("pack_100"), "ord_1")
    await world.spend(80, "spent")  # 10 free + 70 purchased

    posted = await world.claw_back("ord_1", refunded_amount=149, total_amount=149)
    again = await world.claw_back("ord_1", refunded_amount=149, total_amount=149)

    assert posted is not None
    assert posted.entry is not None
    assert (posted.entry.amount, posted.entry.shortfall) == (-30, 70)
    assert again is not None
    assert again.duplicate
    assert (await world.balance()).purchased == 0


async def test_a_clawback_for_an_uncredited_order_is_ignored(world: LedgerWorld) -> None:
    assert await world.claw_back("ord_x", refunded_amount=1, total_amount=1) is None


async def test_a_clawback_needs_a_positive_total(world: LedgerWorld) -> None:
    with pytest.raises(ValidationError):
        await world.claw_back("ord_x", refunded_amount=0, total_amount=0)


async def test_charged_keeps_the_charge_when_the_operation_succeeds(world: LedgerWorld) -> None:
    async with world.guard.charged(ALICE, "chat_reply", TokenAmount(2), key="k") as charge:
        assert charge.entry is not None
    assert (await world.balance()).total == 8


async def test_charged_refunds_when_the_operation_fails(world: LedgerWorld) -> None:
    with pytest.raises(RuntimeError):
        async with world.guard.charged(ALICE, "chat_reply", TokenAmount(2), key="k"):
            raise RuntimeError("provider down")
    assert (await world.balance()).total == 10
    assert [e.kind for e in await world.entries()][-1] is EntryKind.REFUND


async def test_charged_refunds_an_empty_result(world: LedgerWorld) -> None:
    async with world.guard.charged(ALICE, "chat_reply", TokenAmount(2), key="k") as charge:
        charge.empty()
    assert (await world.balance()).total == 10


async def test_charged_never_charges_one_key_twice_nor_refunds_a_replay(
    world: LedgerWorld,
) -> None:
    async def failing_retry() -> None:
        async with world.guard.charged(ALICE, "chat_reply", TokenAmount(2), key="k") as again:
            assert again.replayed
            raise RuntimeError("the retry fails")

    async with world.guard.charged(ALICE, "chat_reply", TokenAmount(2), key="k"):
        pass
    with pytest.raises(RuntimeError):
        await failing_retry()
    assert (await world.balance()).total == 8


async def test_charged_runs_nothing_when_the_balance_is_short(world: LedgerWorld) -> None:
    ran = False
    with pytest.raises(InsufficientTokensError):
        async with world.guard.charged(ALICE, "image_generate", TokenAmount(11), key="k"):
            ran = True
    assert not ran
    assert await world.entries() == []


async def test_provisioning_a_user_credits_the_welcome_grant_once(world: LedgerWorld) -> None:
    world.clock.at = utc("2025-03-01T10:00:00")
    provision = ProvisionUser(world.uow, world.clock, RecentUsers(world.clock), world.ids)

    await provision(Principal(ALICE))
    await provision(Principal(ALICE))

    kinds = [(e.kind, e.amount) for e in await world.entries()]
    assert kinds == [(EntryKind.DAILY_FREE, 10), (EntryKind.GRANT, 20)]
    assert (await world.balance()).total == 30


def test_the_default_prices_follow_the_product_table() -> None:
    assert PRICES.cost_of(Operation.PERSONA_GENERATE) == TokenAmount(1)
    assert PRICES.cost_of(Operation.PERSONA_GENERATE, signed_in=False) == TokenAmount(0)
    assert PRICES.cost_of(Operation.PERSONA_CLONE) == TokenAmount(0)
    assert [PRICES.image_cost(t).value for t in ImageTier] == [1, 3, 5]
    assert PRICES.image_cost(ImageTier.LOW, "black-forest-labs/flux-1.1-pro-ultra").value == 6
    assert PRICES.chat_cost(None, ChatMode.ROLEPLAY).value == 1
    assert PRICES.chat_cost(None, ChatMode.STORY).value == 2
    packs = [(p.id, p.tokens.value, p.price) for p in PRICES.packs]
    assert packs == [
        ("pack_100", 100, Price(149, "USD")),
        ("pack_500", 500, Price(699, "USD")),
        ("pack_1000", 1000, Price(999, "USD")),
    ]


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: PRICES.pack("pack_7"),
        lambda: PRICES.chat_cost("nope/model", ChatMode.ROLEPLAY),
        lambda: PRICES.image_cost(ImageTier.HIGH, "nope/model"),
    ],
    ids=["pack", "chat", "image"],
)
def test_an_unknown_pack_or_model_is_a_validation_error(lookup) -> None:
    with pytest.raises(ValidationError):
        lookup()


def test_a_token_amount_is_never_negative() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        TokenAmount(-1)
