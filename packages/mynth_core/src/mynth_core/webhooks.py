"""Authenticated webhook deliveries and the WebhookVerifier port."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Protocol

import attrs

TOLERANCE_SECONDS: Final = 300  # how far a delivery's timestamp may be from now, either way


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
