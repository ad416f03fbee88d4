"""StandardWebhookVerifier: Standard Webhooks (Polar) and Svix (Clerk) signatures, one algorithm."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NoReturn

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import WebhookRejectedError
from mynth_core.webhooks import TOLERANCE_SECONDS, WebhookDelivery, WebhookVerifier

_log = logging.getLogger(__name__)

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
_MAX_TIMESTAMP_DIGITS: Final = 12  # Unix seconds until the year 33658; bounds int() work


class HeaderFamily(enum.Enum):
    """Which header names carry id, timestamp and signature (PROVIDERS §5.1)."""

    STANDARD = "webhook"  # Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature
    SVIX = "svix"  # Svix (Clerk): svix-id, svix-timestamp, svix-signature

    def header(self, field: str) -> str:
        return f"{self.value}-{field}"


def standard_key(secret: str) -> bytes | None:
    """The spec key: base64 of the part after `whsec_` (padding optional), or None if not base64."""
    encoded = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def legacy_key(secret: str) -> bytes:
    """Polar's legacy key (PROVIDERS §4.6): the UTF-8 bytes of the whole secret, prefix included."""
    return secret.encode()


def signing_keys(secrets: Iterable[str], *, legacy: bool) -> tuple[bytes, ...]:
    """Every HMAC key to try, in order: per secret the spec key, then (if `legacy`) the raw one.

    Raises:
        ValueError: a secret is empty, or yields no key (not base64 and `legacy` is off).
    """
    keys: list[bytes] = []
    for position, secret in enumerate(secrets):
        candidates = [standard_key(secret), legacy_key(secret) if legacy else None]
        found = [key for key in candidates if key]
        if not secret or not found:
            # The position, never the secret: this message ends up in start-up logs.
            raise ValueError(f"webhook secret #{position + 1} is not a `whsec_<base64>` secret")
        for key in found:
            if key not in keys:
                keys.append(key)
    return tuple(keys)


def _secret_tuple(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(secrets)


@attrs.frozen(kw_only=True)
class StandardWebhookVerifier:
    """Verifies HMAC-SHA256 `v1` webhook signatures per PROVIDERS §5.3, for either header family.

    `secrets` lists every accepted secret (old and new during a rotation); an empty list rejects
    every delivery. `legacy_keys` also tries Polar's raw-secret key: enable it for Polar only.
    Checks, in order: a secret is configured; id, timestamp and signature headers present and
    non-empty; the timestamp is ASCII digits within `tolerance` seconds of `clock`, either
    way; one `v1,<base64>` entry (malformed entries are skipped) equals the HMAC of
    `id.timestamp.body` under some key, compared in constant time. Secrets and signatures are
    never logged and never appear in a rejection's reason.
    """

    secrets: tuple[str, ...] = attrs.field(repr=False, converter=_secret_tuple)
    clock: Clock
    family: HeaderFamily = HeaderFamily.STANDARD
    legacy_keys: bool = False
    tolerance: int = attrs.field(default=TOLERANCE_SECONDS, validator=attrs.validators.ge(0))
    _keys: tuple[bytes, ...] = attrs.field(init=False, repr=False, eq=False)

    @_keys.default
    def _derive_keys(self) -> tuple[bytes, ...]:
        return signing_keys(self.secrets, legacy=self.legacy_keys)

    @classmethod
    def for_polar(cls, secrets: Iterable[str], *, clock: Clock) -> StandardWebhookVerifier:
        """`webhook-*` headers, spec and legacy key derivations (PROVIDERS §4.6)."""
        return cls(secrets=tuple(secrets), clock=clock, legacy_keys=True)

    @classmethod
    def for_clerk(cls, secrets: Iterable[str], *, clock: Clock) -> StandardWebhookVerifier:
        """`svix-*` headers, the spec key derivation only (PROVIDERS §3.6)."""
        return cls(secrets=tuple(secrets), clock=clock, family=HeaderFamily.SVIX)

    def verify(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        if not self._keys:
            _reject("not-configured")
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id, timestamp, signature = (
            self._header(lowered, field) for field in ("id", "timestamp", "signature")
        )
        sent_at = self._checked_time(timestamp, msg_id)
        signed = f"{msg_id}.{timestamp}.".encode() + body
        expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in self._keys]
        for candidate in _v1_signatures(signature):
            if any(hmac.compare_digest(candidate, digest) for digest in expected):
                return WebhookDelivery(id=msg_id, timestamp=sent_at, body=body)
        _log.warning("webhook %s rejected: no matching signature", msg_id)
        raise WebhookRejectedError(reason="bad-signature")

    def _header(self, headers: Mapping[str, str], field: str) -> str:
        name = self.family.header(field)
        value = headers.get(name, "").strip()
        if not value:
            _reject(f"missing-header:{name}")
        return value

    def _checked_time(self, timestamp: str, msg_id: str) -> datetime:
        if not (timestamp.isascii() and timestamp.isdigit()) or (
            len(timestamp) > _MAX_TIMESTAMP_DIGITS
        ):
            _reject("malformed-timestamp")
        skew = int(timestamp) - self.clock.now().timestamp()
        if abs(skew) > self.tolerance:
            _log.warning("webhook %s rejected: timestamp %+.0f s from now", msg_id, skew)
            _reject("future-timestamp" if skew > 0 else "stale-timestamp")
        return datetime.fromtimestamp(int(timestamp), UTC)


def _v1_signatures(header: str) -> Iterable[bytes]:
    """The decoded `v1` entries of a signature header; malformed entries are skipped, not fatal."""
    for entry in header.split(" "):
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            yield base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue


def _reject(reason: str) -> NoReturn:
    raise WebhookRejectedError(reason=reason)


if TYPE_CHECKING:
    _conforms: type[WebhookVerifier] = StandardWebhookVerifier
