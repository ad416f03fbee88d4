"""The BillingProvider port, the checkout session it starts, and the record of sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import attrs

from mynth_core.errors import CheckoutUnavailableError
from mynth_core.ids import UserId
from mynth_core.pricing import Pack


@attrs.frozen
class Checkout:
    """A hosted checkout session: the provider's id and the opaque URL to send the buyer to."""

    id: str
    url: str


class BillingProvider(Protocol):
    """**Port**: starts payments for token packs.

    `create_checkout` opens a new session on every call (nothing is credited here: a paid
    order arrives later as a webhook) and may retry transient provider failures internally.
    Raises `CheckoutUnavailableError` when the pack cannot be sold (no product configured),
    `PaymentRejectedError` when the provider refuses the request (a 4xx: nothing to retry),
    and `PaymentProviderError` when the provider stays unavailable, rate-limited or answers
    nonsense after the retry budget. Cancellation abandons the call; a session the provider
    may already have opened simply expires.
    """

    async def create_checkout(
        self, user_id: UserId, pack: Pack, *, success_url: str
    ) -> Checkout: ...


@attrs.frozen
class UnconfiguredBillingProvider:
    """The BillingProvider when no payment provider is configured: checkout is unavailable."""

    async def create_checkout(
        self,
        user_id: UserId,  # noqa: ARG002 - the port's signature
        pack: Pack,  # noqa: ARG002
        *,
        success_url: str,  # noqa: ARG002
    ) -> Checkout:
        raise CheckoutUnavailableError("no payment provider is configured")


class CheckoutStatus(StrEnum):
    """Where a recorded checkout session stands."""

    OPEN = "open"
    PAID = "paid"


@attrs.frozen(kw_only=True)
class CheckoutSession:
    """A checkout session mynth started, kept for support (PRODUCT §9.1).

    `id` is the provider's checkout id; `order_id` and `paid_at` are set once it is paid.
    """

    id: str
    user_id: UserId
    pack_id: str
    created_at: datetime
    status: CheckoutStatus = CheckoutStatus.OPEN
    order_id: str | None = None
    paid_at: datetime | None = None


class CheckoutRepository(Protocol):
    """**Port**: the checkout sessions mynth started, in the unit of work.

    `mark_paid` is idempotent: the first paid order is kept and a later call changes nothing.
    """

    async def add(self, session: CheckoutSession) -> None:
        """Record a new session; raises `ConflictError` if its id is already recorded."""

    async def get(self, checkout_id: str) -> CheckoutSession | None: ...

    async def mark_paid(self, checkout_id: str, *, order_id: str, at: datetime) -> bool:
        """Mark an open session paid by `order_id`; False if unknown or already paid."""


if TYPE_CHECKING:
    _conforms: type[BillingProvider] = UnconfiguredBillingProvider
