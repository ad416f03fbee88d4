"""Checkout, order.paid and order.refunded over the fakes (PRODUCT §9)."""

from __future__ import annotations

import logging

import attrs
import pytest

from ledgerkit import ALICE, BOB, LedgerWorld
from mynth_core.billing import OrderPaid, OrderRefunded, PackCatalogue, PackId
from mynth_core.billing.ports import CheckoutSession, CheckoutStatus
from mynth_core.billing.services import HandleOrderPaid, HandleOrderRefunded, StartCheckout
from mynth_core.errors import CheckoutUnavailableError, PaymentProviderError, ValidationError
from mynth_core.identity import Principal
from mynth_core.ledger.model import EntryKind
from mynth_core.testing import FakeBillingProvider, FakeUnitOfWorkFactory, an_order
from mynth_core.testing.fakes import world_counts
from mynth_core.webhooks import POLAR, WebhookOutcome

CATALOGUE = PackCatalogue(
    products=((PackId("pack_100"), "prod_100"), (PackId("pack_500"), "prod_500"))
)
SUCCESS_URL = "https://mynth.example/paid?checkout={CHECKOUT_ID}"


@attrs.define
class World(LedgerWorld):
    billing: FakeBillingProvider = attrs.Factory(FakeBillingProvider)

    @property
    def store(self):
        assert isinstance(self.uow, FakeUnitOfWorkFactory)
        return self.uow.store

    @property
    def start_checkout(self) -> StartCheckout:
        return StartCheckout(self.uow, self.billing, CATALOGUE, self.clock, SUCCESS_URL)

    @property
    def order_paid(self) -> HandleOrderPaid:
        return HandleOrderPaid(self.uow, CATALOGUE, self.clock, self.ids, self.policy)

    @property
    def order_refunded(self) -> HandleOrderRefunded:
        return HandleOrderRefunded(self.uow, self.clock, self.ids, self.policy)

    async def pay(self, delivery: str = "msg_1", **order: object) -> WebhookOutcome:
        return await self.order_paid(delivery, OrderPaid(an_order(**order)))  # type: ignore[arg-type]

    async def refund(self, delivery: str, refunded: int, **order: object) -> WebhookOutcome:
        event = OrderRefunded(an_order(refunded_amount=refunded, **order))  # type: ignore[arg-type]
        return await self.order_refunded(delivery, event)

    async def kinds(self, user=ALICE) -> list[tuple[EntryKind, int]]:
        return [(e.kind, e.amount) for e in await self.entries(user)]


@pytest.fixture
def world() -> World:
    return World()


# --- checkout ---------------------------------------------------------------------------------


async def test_a_checkout_opens_a_provider_session_and_records_it_open(world: World) -> None:
    checkout = await world.start_checkout(Principal(ALICE), "pack_500")

    assert checkout.id == "chk_0001"
    assert [(user, pack.id, url) for user, pack, url in world.billing.calls] == [
        (ALICE, "pack_500", SUCCESS_URL)
    ]
    assert world.store.checkouts["chk_0001"] == CheckoutSession(
        id="chk_0001", user_id=ALICE, pack_id="pack_500", created_at=world.clock.now()
    )


async def test_an_unknown_pack_is_a_validation_error_on_pack_id(world: World) -> None:
    with pytest.raises(ValidationError) as raised:
        await world.start_checkout(Principal(ALICE), "pack_7")

    assert [e.field for e in raised.value.errors] == ["pack_id"]
    assert world.billing.calls == []


async def test_a_pack_without_a_product_cannot_be_bought(world: World) -> None:
    with pytest.raises(CheckoutUnavailableError):
        await world.start_checkout(Principal(ALICE), "pack_1000")

    assert world.billing.calls == []


async def test_a_provider_failure_records_no_checkout(world: World) -> None:
    world.billing.failure = PaymentProviderError("polar is down")

    with pytest.raises(PaymentProviderError):
        await world.start_checkout(Principal(ALICE), "pack_100")

    assert world.store.checkouts == {}


# --- order.paid -------------------------------------------------------------------------------


async def test_a_paid_order_credits_the_pack_and_marks_the_checkout_paid(world: World) -> None:
    await world.start_checkout(Principal(ALICE), "pack_500")

    assert await world.pay() is WebhookOutcome.PROCESSED

    purchase = (await world.entries())[-1]
    assert (purchase.kind, purchase.amount) == (EntryKind.PURCHASE, 500)
    assert purchase.idempotency_key == "purchase:polar:ord_1"
    assert purchase.reference is not None
    assert purchase.reference.id == "ord_1"
    session = world.store.checkouts["chk_0001"]
    assert (session.status, session.order_id) == (CheckoutStatus.PAID, "ord_1")
    assert (POLAR, "msg_1") in world.store.deliveries


async def test_a_duplicate_delivery_id_is_a_duplicate_with_no_second_credit(world: World) -> None:
    await world.pay("msg_1")

    assert await world.pay("msg_1") is WebhookOutcome.DUPLICATE
    assert (await world.balance()).purchased == 520  # 20 welcome + 500


async def test_two_different_deliveries_of_one_order_credit_once(world: World) -> None:
    assert await world.pay("msg_1") is WebhookOutcome.PROCESSED
    assert await world.pay("msg_2") is WebhookOutcome.DUPLICATE

    assert [kind for kind, _ in await world.kinds()].count(EntryKind.PURCHASE) == 1
    assert (await world.balance()).purchased == 520


async def test_an_unknown_user_is_provisioned_with_the_welcome_grant_then_credited(
    world: World,
) -> None:
    assert await world.pay() is WebhookOutcome.PROCESSED

    assert ALICE in world.store.users
    assert await world.kinds() == [
        (EntryKind.DAILY_FREE, 10), (EntryKind.GRANT, 20), (EntryKind.PURCHASE, 500),
    ]  # fmt: skip


async def test_a_second_order_of_a_known_user_grants_nothing_more(world: World) -> None:
    await world.pay("msg_1", order_id="ord_1")
    await world.pay("msg_2", order_id="ord_2", product_id="prod_100")

    assert [kind for kind, _ in await world.kinds()].count(EntryKind.GRANT) == 1
    assert (await world.balance()).purchased == 620


async def test_the_metadata_user_is_the_buyer_when_the_customer_has_none(world: World) -> None:
    assert await world.pay(customer=None, user_id="bob") is WebhookOutcome.PROCESSED

    assert (await world.balance(BOB)).purchased == 520


async def test_a_user_mismatch_is_ignored_logged_and_stores_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    before = world_counts(world.uow)  # type: ignore[arg-type]

    with caplog.at_level(logging.ERROR):
        assert await world.pay(customer="alice", user_id="bob") is WebhookOutcome.IGNORED

    assert world_counts(world.uow) == before  # type: ignore[arg-type]
    assert "differ" in caplog.text


async def test_an_order_naming_no_user_is_ignored(world: World) -> None:
    assert await world.pay(customer=None, user_id=None) is WebhookOutcome.IGNORED
    assert world.store.ledger == []


async def test_an_unknown_product_is_ignored_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await world.pay(product_id="prod_gone") is WebhookOutcome.IGNORED

    assert world.store.ledger == []
    assert world.store.deliveries == {}  # not remembered: a replay after a fix still counts
    assert "unknown product" in caplog.text


async def test_the_product_decides_the_pack_over_the_metadata(world: World) -> None:
    assert await world.pay(product_id="prod_100", pack_id="pack_500") is WebhookOutcome.PROCESSED

    assert (await world.balance()).purchased == 120


async def test_an_order_already_credited_to_another_user_is_ignored(world: World) -> None:
    await world.pay("msg_1")

    outcome = await world.pay("msg_2", customer="bob", user_id="bob")

    assert outcome is WebhookOutcome.IGNORED
    assert (await world.balance(BOB)).purchased == 0


async def test_an_order_without_a_recorded_checkout_is_still_credited(world: World) -> None:
    assert await world.pay(checkout_id="chk_elsewhere") is WebhookOutcome.PROCESSED
    assert world.store.checkouts == {}


# --- order.refunded ---------------------------------------------------------------------------


async def test_a_full_refund_claws_back_the_whole_pack(world: World) -> None:
    await world.pay()

    assert await world.refund("msg_r1", 699) is WebhookOutcome.PROCESSED

    assert (await world.kinds())[-1] == (EntryKind.CLAWBACK, -500)
    assert (await world.balance()).purchased == 20


async def test_partial_refunds_claw_back_the_difference_each_time(world: World) -> None:
    await world.pay()

    await world.refund("msg_r1", 350)  # floor(500 * 350 / 699) = 250
    await world.refund("msg_r2", 699)  # the remaining 250

    assert [amount for kind, amount in await world.kinds() if kind is EntryKind.CLAWBACK] == [
        -250, -250,
    ]  # fmt: skip


async def test_a_clawback_beyond_the_balance_records_the_shortfall(world: World) -> None:
    await world.pay()
    await world.spend(510, "spent")  # 10 free + 500 purchased; 20 purchased left

    await world.refund("msg_r1", 699)

    clawback = (await world.entries())[-1]
    assert (clawback.amount, clawback.shortfall) == (-20, 480)
    assert (await world.balance()).purchased == 0


async def test_a_replayed_refund_delivery_is_a_duplicate(world: World) -> None:
    await world.pay()
    await world.refund("msg_r1", 699)

    assert await world.refund("msg_r1", 699) is WebhookOutcome.DUPLICATE
    assert await world.refund("msg_r2", 699) is WebhookOutcome.DUPLICATE
    assert (await world.balance()).purchased == 20


async def test_a_refund_of_a_never_credited_order_is_ignored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await world.refund("msg_r1", 699) is WebhookOutcome.IGNORED

    assert world.store.ledger == []
    assert world.store.deliveries == {}
    assert "never credited" in caplog.text


async def test_a_refund_of_an_order_without_a_total_is_ignored(world: World) -> None:
    await world.pay()

    assert await world.refund("msg_r1", 0, total_amount=0) is WebhookOutcome.IGNORED
