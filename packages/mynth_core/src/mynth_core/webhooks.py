"""Authenticated webhook deliveries, their outcomes, and the WebhookVerifier and log ports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

import attrs

TOLERANCE_SECONDS: Final = 300  # how far a delivery's timestamp may be from now, either way
POLAR: Final = "polar"  # the `source` of Polar deliveries in the delivery log
CLERK: Final = "clerk"  # the `source` of Clerk (Svix) deliveries


class WebhookOutcome(StrEnum):
    """What handling a verified delivery came to; the value is the response's `status`.

    `processed` and `duplicate` answer 200, `ignored` answers 202 (PRODUCT §9.5, §3.5).
    """

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@attrs.frozen
class WebhookDelivery:
    """One delivery whose signature and timestamp checked out.

    `id` is the sender's message id (the same on every retry: the dedupe key), `timestamp` the
    signed time of this attempt (aware UTC), `body` the raw bytes exactly as received, unparsed.
    """

    id: str
    timestamp: datetime
    body: bytes = attrs.field(repr=lambda body: f"<{len(body)} bytes>")


class WebhookVerifier(Protocol):
    """**Port**: authenticates one webhook delivery from its headers and raw body.

    Pure and synchronous: no I/O. Header names are matched case-insensitively. Raises
    `WebhookRejectedError` (with a short reason, never a secret or a signature) when a required
    header is missing or empty, no signature matches a configured secret, no secret is
    configured at all, or the timestamp is more than `TOLERANCE_SECONDS` away from now in
    either direction. The body is never parsed here.
    """

    def verify(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery: ...


class WebhookDeliveryLog(Protocol):
    """**Port**: the delivery ids already handled, per sender (`source`), in the unit of work.

    `record` is `INSERT ... ON CONFLICT DO NOTHING`: it returns True only for the first
    recording of `(source, delivery_id)`. A concurrent recording of the same id waits until
    the first unit of work ends, then returns False if that one committed (True if it rolled
    back). A recording is kept only if the unit of work commits, together with its effect.
    """

    async def seen(self, source: str, delivery_id: str) -> bool:
        """Whether `(source, delivery_id)` was recorded by a committed unit of work."""

    async def record(self, source: str, delivery_id: str, *, at: datetime) -> bool:
        """Remember the delivery; False when it was already remembered."""
