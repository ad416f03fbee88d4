"""Inbound webhooks: verify the raw delivery, parse it, hand it to one core use case."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from mynth_adapters.clerk import parse_clerk_event
from mynth_adapters.polar import parse_polar_event
from mynth_core.billing import OrderPaid, OrderRefunded
from mynth_core.billing.services import HandleOrderPaid, HandleOrderRefunded
from mynth_core.identity_events import ClerkUserDeleted, ClerkUserUpserted
from mynth_core.users import DeleteUser, SyncClerkUser
from mynth_core.webhooks import WebhookOutcome, WebhookVerifier


@attrs.frozen
class PolarWebhooks:
    """`order.paid` credits a pack, `order.refunded` claws back; other types are ignored.

    Raises:
        WebhookRejectedError: a missing or wrong signature, or a stale timestamp (401).
        MalformedWebhookError: a verified body that is not a Polar event (400).
    """

    verifier: WebhookVerifier
    order_paid: HandleOrderPaid
    order_refunded: HandleOrderRefunded

    async def __call__(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        delivery = self.verifier.verify(headers, body)
        match parse_polar_event(delivery.body):
            case OrderPaid() as event:
                return await self.order_paid(delivery.id, event)
            case OrderRefunded() as event:
                return await self.order_refunded(delivery.id, event)
            case _:
                return WebhookOutcome.IGNORED


@attrs.frozen
class ClerkWebhooks:
    """`user.created`/`user.updated` upsert the user, `user.deleted` deletes them.

    Raises:
        WebhookRejectedError: a missing or wrong Svix signature, or a stale timestamp (401).
        MalformedWebhookError: a verified body that is not a Clerk event (400).
    """

    verifier: WebhookVerifier
    sync_user: SyncClerkUser
    delete_user: DeleteUser

    async def __call__(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        delivery = self.verifier.verify(headers, body)
        match parse_clerk_event(delivery.body):
            case ClerkUserUpserted() as event:
                return await self.sync_user(delivery.id, event)
            case ClerkUserDeleted() as event:
                return await self.delete_user(delivery.id, event)
            case _:
                return WebhookOutcome.IGNORED
