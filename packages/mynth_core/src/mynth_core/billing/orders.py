"""Payment events mynth reacts to: an order paid, an order (partly) refunded, anything else."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Order:
    """The facts of one provider order that crediting and clawing back need, unverified.

    `customer_external_id` and `user_id` (from the checkout metadata) both name the buyer and
    are cross-checked by the use case; `product_id` names the pack. Amounts are in cents;
    `refunded_amount` is cumulative over all refunds of the order.
    """

    id: str
    product_id: str | None
    customer_external_id: str | None
    user_id: str | None
    pack_id: str | None
    checkout_id: str | None
    total_amount: int
    refunded_amount: int
    currency: str | None


@attrs.frozen
class OrderPaid:
    """An order fully processed and paid: the only event that credits tokens."""

    order: Order


@attrs.frozen
class OrderRefunded:
    """A full or partial refund of an order; sent again for every further partial refund."""

    order: Order


@attrs.frozen
class IgnoredBillingEvent:
    """A verified, well-formed event of a type mynth acknowledges and ignores."""

    type: str


BillingEvent = OrderPaid | OrderRefunded | IgnoredBillingEvent
