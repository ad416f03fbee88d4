"""A webhook sender that signs exact raw bytes with the providers' reference libraries.

Standard Webhooks headers (Polar) are signed by `standardwebhooks`, Svix headers (Clerk) by
`svix`; Polar's legacy key (the UTF-8 bytes of the whole secret) by `standardwebhooks` given
the secret as bytes. Nothing here reimplements the algorithm under test.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final

import attrs
import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

# PROVIDERS §5.4 vectors 2 and 4: a Polar and a Clerk secret in the `whsec_<base64>` form.
POLAR_SECRET: Final = "whsec_ZmFrZS1wb2xhci1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
CLERK_SECRET: Final = "whsec_bXludGgtY2xlcmstdGVzdC1rZXktMDEyMzQ1Njc4OQ=="
# Older Polar secrets are not base64 after their prefix: only the legacy key can verify them.
POLAR_LEGACY_SECRET: Final = "polar_whs_fake0legacy0secret0value0123"
# Far from the wall clock on purpose: the reference libraries' own `verify` uses time.time().
T0: Final = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


class Family(Enum):
    """Header names, and the reference library that signs for them."""

    STANDARD = "webhook"
    SVIX = "svix"


def new_secret(seed: str) -> str:
    """A `whsec_` secret whose key is 32 bytes derived from `seed` (readable, reproducible)."""
    return "whsec_" + base64.b64encode(seed.encode().ljust(32, b"0")[:32]).decode()


@attrs.frozen
class Delivery:
    """One signed webhook as it goes on the wire: headers and the exact body bytes."""

    headers: Mapping[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return next(v for k, v in self.headers.items() if k.endswith("-id"))

    def without(self, header: str) -> Delivery:
        return Delivery({k: v for k, v in self.headers.items() if k != header}, self.body)

    def with_header(self, name: str, value: str) -> Delivery:
        return Delivery({**self.headers, name: value}, self.body)

    def with_body(self, body: bytes) -> Delivery:
        """The same headers over other bytes: the signature no longer matches."""
        return Delivery(self.headers, body)


def reference_signature(
    secret: str | bytes, msg_id: str, at: datetime, body: bytes, family: Family
) -> str:
    """`v1,<base64>` from the reference library of `family`; a `bytes` secret is the raw key."""
    signer = StandardWebhook(secret) if family is Family.STANDARD else SvixWebhook(secret)
    return signer.sign(msg_id, at, body.decode())


@attrs.define
class WebhookSender:
    """Builds signed deliveries for one sender (Polar or Clerk) as of a given time.

    Every method returns a `Delivery`; `post` sends one to mynth over a real client. Ids are
    `msg_<prefix>_0001`, `..._0002`, ...; pass `msg_id` to replay one (a duplicate).
    """

    secret: str
    family: Family = Family.STANDARD
    prefix: str = "test"
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    @classmethod
    def polar(cls, secret: str = POLAR_SECRET) -> WebhookSender:
        return cls(secret, Family.STANDARD, "polar")

    @classmethod
    def clerk(cls, secret: str = CLERK_SECRET) -> WebhookSender:
        return cls(secret, Family.SVIX, "clerk")

    def next_id(self) -> str:
        return f"msg_{self.prefix}_{next(self._ids):04d}"

    def headers(self, msg_id: str, at: datetime, signature: str) -> dict[str, str]:
        name = self.family.value
        return {
            f"{name}-id": msg_id,
            f"{name}-timestamp": str(int(at.timestamp())),
            f"{name}-signature": signature,
            "content-type": "application/json",
        }

    def signed(
        self,
        body: bytes,
        *,
        at: datetime,
        msg_id: str | None = None,
        secrets: Sequence[str | bytes] | None = None,
    ) -> Delivery:
        """A delivery signed at `at` with each of `secrets` (default: this sender's secret)."""
        msg_id = msg_id or self.next_id()
        keys = list(secrets) if secrets is not None else [self.secret]
        signature = " ".join(
            reference_signature(key, msg_id, at, body, self.family) for key in keys
        )
        return Delivery(self.headers(msg_id, at, signature), body)

    def valid(self, body: bytes, *, at: datetime, msg_id: str | None = None) -> Delivery:
        return self.signed(body, at=at, msg_id=msg_id)

    def bad_signature(self, body: bytes, *, at: datetime) -> Delivery:
        """Signed with another secret."""
        return self.signed(body, at=at, secrets=[new_secret("not-the-configured-secret")])

    def stale(self, body: bytes, *, at: datetime, seconds: int = 301) -> Delivery:
        """Signed correctly `seconds` before `at`."""
        return self.signed(body, at=at - timedelta(seconds=seconds))

    def future(self, body: bytes, *, at: datetime, seconds: int = 301) -> Delivery:
        """Signed correctly `seconds` after `at`."""
        return self.signed(body, at=at + timedelta(seconds=seconds))

    def rotated(self, body: bytes, *, at: datetime, old: str, new: str) -> Delivery:
        """Two signatures in one header, as a sender does while rotating its secret."""
        return self.signed(body, at=at, secrets=[old, new])

    def legacy(self, body: bytes, *, at: datetime, msg_id: str | None = None) -> Delivery:
        """Signed with Polar's legacy key: the UTF-8 bytes of the whole secret string."""
        return self.signed(body, at=at, msg_id=msg_id, secrets=[self.secret.encode()])

    def duplicate(self, delivery: Delivery, *, at: datetime) -> Delivery:
        """A redelivery: the same id and bytes, re-signed with a new timestamp."""
        return self.signed(delivery.body, at=at, msg_id=delivery.id)

    async def post(self, client: httpx.AsyncClient, url: str, delivery: Delivery) -> httpx.Response:
        return await client.post(url, content=delivery.body, headers=dict(delivery.headers))
