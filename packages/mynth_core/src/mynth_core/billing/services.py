"""Billing use cases: start a checkout, credit a paid order, claw back a refunded one."""

from __future__ import annotations

import logging

import attrs

from mynth_core.billing.orders import Order, OrderPaid, OrderRefunded
from mynth_core.billing.packs import PackCatalogue
from mynth_core.billing.ports import BillingProvider, Checkout, CheckoutSession
from mynth_core.clock import Clock
from mynth_core.errors import CheckoutUnavailableError, ValidationError
from mynth_core.identity import Principal
from mynth_core.ids import IdFactory, UserId
from mynth_core.ledger.model import purchase_key
from mynth_core.ledger.services import DEFAULT_POLICY, LedgerPolicy, claw_back, credit_purchase
from mynth_core.pricing import Pack
from mynth_core.uow import UnitOfWorkFactory
from mynth_core.users import provision
from mynth_core.webhooks import POLAR, WebhookOutcome

_log = logging.getLogger(__name__)


@attrs.frozen
class StartCheckout:
    """Open a provider checkout for a pack and record the session for support (§9.1)."""

    uow: UnitOfWorkFactory
    billing: BillingProvider
    catalogue: PackCatalogue
    clock: Clock
    success_url: str

    async def __call__(self, who: Principal, pack_id: str) -> Checkout:
        """Start paying for `pack_id`; nothing is credited until the order is paid.

        Raises:
            ValidationError: `pack_id` is not a pack on sale.
            CheckoutUnavailableError: the pack has no product, or no provider is configured.
            PaymentProviderError: the provider failed or refused (`PaymentRejectedError`).
        """
        pack = self.catalogue.get(pack_id)
        if pack is None:
            raise ValidationError.single("pack_id", "is not a pack on sale")
        if self.catalogue.product_id(pack.id) is None:
            raise CheckoutUnavailableError(f"pack {pack.id} cannot be bought yet")
        # The provider call runs outside any transaction: no lock is held while it waits.
        checkout = await self.billing.create_checkout(
            who.user_id, pack, success_url=self.success_url
        )
        session = CheckoutSession(
            id=checkout.id, user_id=who.user_id, pack_id=pack.id, created_at=self.clock.now()
        )
        async with self.uow() as uow:
            await uow.checkouts.add(session)
            await uow.commit()
        return checkout


@attrs.frozen
class HandleOrderPaid:
    """Credit a paid order's pack exactly once (§9.3), remembering the delivery id."""

    uow: UnitOfWorkFactory
    catalogue: PackCatalogue
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, delivery_id: str, event: OrderPaid) -> WebhookOutcome:
        """Credit the order to its buyer, provisioning an unknown buyer first.

        One unit of work holds the delivery record, the provisioning, the credit and the
        checkout's `paid` mark, so they commit together or not at all. Returns `duplicate`
        for a delivery id or an order already handled, `ignored` (nothing stored) when the
        buyer or the pack cannot be told.
        """
        order = event.order
        buyer, pack = _buyer(order), self._pack(order)
        if buyer is None or pack is None:
            return WebhookOutcome.IGNORED
        at = self.clock.now()
        async with self.uow() as uow:
            if not await uow.deliveries.record(POLAR, delivery_id, at=at):
                return WebhookOutcome.DUPLICATE
            credited = await uow.ledger.find(purchase_key(order.id))
            if credited is not None and credited.user_id != buyer:
                _log.error("polar order %s was credited to another user; ignored", order.id)
                return WebhookOutcome.IGNORED
            user = await provision(uow, buyer, at=at, policy=self.policy, ids=self.ids)
            if user.deleted_at is not None:
                _log.warning("polar order %s paid by deleted user %s; crediting", order.id, buyer)
            posted = await credit_purchase(
                uow, buyer, pack, order.id, at=at, policy=self.policy, ids=self.ids
            )
            if order.checkout_id is not None:
                await uow.checkouts.mark_paid(order.checkout_id, order_id=order.id, at=at)
            await uow.commit()
        return WebhookOutcome.DUPLICATE if posted.duplicate else WebhookOutcome.PROCESSED

    def _pack(self, order: Order) -> Pack | None:
        pack = None if order.product_id is None else self.catalogue.by_product(order.product_id)
        if pack is None:
            _log.error("polar order %s: unknown product %s; ignored", order.id, order.product_id)
        elif order.pack_id is not None and order.pack_id != pack.id:
            _log.warning(
                "polar order %s: product %s is %s, metadata says %s; the product decides",
                order.id, order.product_id, pack.id, order.pack_id,
            )  # fmt: skip
        return pack


def _buyer(order: Order) -> UserId | None:
    """The customer's external id, else the metadata's user id; None if absent or differing."""
    external, metadata = order.customer_external_id, order.user_id
    if external is not None and metadata is not None and external != metadata:
        _log.error(
            "polar order %s: customer %s and metadata user %s differ; ignored",
            order.id, external, metadata,
        )  # fmt: skip
        return None
    buyer = external or metadata
    if buyer is None:
        _log.error("polar order %s names no user; ignored", order.id)
        return None
    return UserId(buyer)


@attrs.frozen
class HandleOrderRefunded:
    """Claw back a (partly) refunded order's tokens (§9.4), remembering the delivery id."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, delivery_id: str, event: OrderRefunded) -> WebhookOutcome:
        """Take back the refunded share, from purchased tokens only, never below zero.

        Returns `duplicate` for a delivery id or a refunded amount already handled,
        `ignored` (nothing stored) for an order never credited or without a total.
        """
        order = event.order
        if order.total_amount <= 0:
            _log.error("polar refund of order %s without a total; ignored", order.id)
            return WebhookOutcome.IGNORED
        at = self.clock.now()
        async with self.uow() as uow:
            if not await uow.deliveries.record(POLAR, delivery_id, at=at):
                return WebhookOutcome.DUPLICATE
            posted = await claw_back(
                uow,
                order.id,
                refunded_amount=order.refunded_amount,
                total_amount=order.total_amount,
                at=at,
                policy=self.policy,
                ids=self.ids,
            )
            if posted is None:
                _log.error("polar refund of order %s, never credited; ignored", order.id)
                return WebhookOutcome.IGNORED
            await uow.commit()
        return WebhookOutcome.DUPLICATE if posted.duplicate else WebhookOutcome.PROCESSED
