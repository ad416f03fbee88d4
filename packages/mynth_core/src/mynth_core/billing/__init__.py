"""Token packs, the BillingProvider port and the payment events mynth reacts to."""

from __future__ import annotations

from mynth_core.billing.orders import (
    BillingEvent,
    IgnoredBillingEvent,
    Order,
    OrderPaid,
    OrderRefunded,
)
from mynth_core.billing.packs import PackCatalogue, PackId
from mynth_core.billing.ports import (
    BillingProvider,
    Checkout,
    CheckoutRepository,
    CheckoutSession,
    CheckoutStatus,
    UnconfiguredBillingProvider,
)

__all__ = [
    "BillingEvent",
    "BillingProvider",
    "Checkout",
    "CheckoutRepository",
    "CheckoutSession",
    "CheckoutStatus",
    "IgnoredBillingEvent",
    "Order",
    "OrderPaid",
    "OrderRefunded",
    "PackCatalogue",
    "PackId",
    "UnconfiguredBillingProvider",
]
