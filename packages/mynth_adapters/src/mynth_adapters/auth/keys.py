"""Public keys for session-token verification: the KeySource port, JWKS, PEM and static sources."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from mynth_core.clock import Clock
from mynth_core.errors import InvalidTokenError

_log = logging.getLogger(__name__)

MIN_RSA_BITS: Final = 2048
_RETRY_DELAY: Final = 0.1  # seconds before the single retry of a failed JWKS request
_SERVER_ERROR: Final = 500


class KeySource(Protocol):
    """**Port**: the RSA public key that signed a session token, chosen by the header's `kid`.

    Raises `InvalidTokenError("unknown-key")` when no key matches. Never raises anything else
    for a provider outage: a source that fetches keys keeps serving what it already has.
    """

    async def key_for(self, kid: str | None) -> RSAPublicKey: ...


class _KeyRejectedError(ValueError):
    """A JWK entry that is not an RS256 signing key mynth accepts."""


class _JwksFetchError(Exception):
    """A JWKS fetch that yielded no usable key set; the message is safe to log."""


def require_rsa_key(key: object) -> RSAPublicKey:
    """Return `key` if it is an RSA public key of at least 2048 bits, else raise `ValueError`."""
    if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return key
    raise ValueError(f"expected an RSA public key of at least {MIN_RSA_BITS} bits, got {key!r}")


def jwk_thumbprint(key: RSAPublicKey) -> str:
    """The RFC 7638 SHA-256 thumbprint of `key`, base64url without padding: a stable `kid`."""
    numbers = key.public_numbers()
    members = {"e": _b64_uint(numbers.e), "kty": "RSA", "n": _b64_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def _rsa_2048(
    _instance: object, _attribute: attrs.Attribute[RSAPublicKey], value: RSAPublicKey
) -> None:
    require_rsa_key(value)


@attrs.frozen
class PemKeySource:
    """One public key from PEM text (Clerk's "JWKS Public Key"): networkless, ignores `kid`."""

    key: RSAPublicKey = attrs.field(validator=_rsa_2048)

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PemKeySource:
        """Load an SPKI (`BEGIN PUBLIC KEY`) PEM; raise `ValueError` if it is no RSA-2048+ key."""
        data = pem.encode() if isinstance(pem, str) else pem
        return cls(require_rsa_key(serialization.load_pem_public_key(data)))

    async def key_for(self, kid: str | None) -> RSAPublicKey:  # noqa: ARG002 - a PEM has no kid
        return self.key


@attrs.frozen
class StaticKeySource:
    """One public key under one `kid` (the local issuer's); any other `kid` is unknown."""

    kid: str
    key: RSAPublicKey = attrs.field(validator=_rsa_2048)

    async def key_for(self, kid: str | None) -> RSAPublicKey:
        if kid != self.kid:
            raise InvalidTokenError(reason="unknown-key")
        return self.key


@attrs.define
class _JwksCache:
    keys: dict[str, RSAPublicKey] = attrs.Factory(dict)
    fetched_at: datetime | None = None  # last successful fetch
    attempted_at: datetime | None = None  # last completed fetch, successful or not
    attempts: int = 0
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)


@attrs.frozen(kw_only=True, eq=False)
class JwksKeySource:
    """Keys from a JWKS endpoint (Clerk's Frontend or Backend API), cached by `kid`.

    The set is refreshed after `ttl` seconds. An unknown `kid` triggers one refetch; concurrent
    callers share it (single-flight), and no fetch starts within `cooldown` seconds of the last
    one, so random `kid`s cannot flood the endpoint. A failed fetch (5xx, transport error,
    timeout, malformed body) is logged and the cached keys keep serving (stale-if-error).
    `bearer_token` (Clerk's secret key, for `/v1/jwks`) is sent but never logged.
    """

    client: httpx.AsyncClient
    url: str
    clock: Clock
    ttl: float = 3600.0
    cooldown: float = 30.0
    timeout: float = 5.0  # overall, both attempts included
    bearer_token: str | None = attrs.field(default=None, repr=False)
    _cache: _JwksCache = attrs.field(init=False, factory=_JwksCache, repr=False)

    async def key_for(self, kid: str | None) -> RSAPublicKey:
        if kid is None:
            raise InvalidTokenError(reason="unknown-key")
        key = self._cache.keys.get(kid)
        # A known key whose set is being refreshed by someone else is served as is.
        if key is None or (self._is_stale() and not self._cache.lock.locked()):
            await self._refresh()
            key = self._cache.keys.get(kid)
        if key is None:
            raise InvalidTokenError(reason="unknown-key")
        return key

    def _is_stale(self) -> bool:
        age = self._age(self._cache.fetched_at)
        return age is None or not timedelta(0) <= age < timedelta(seconds=self.ttl)

    def _is_cooling_down(self) -> bool:
        age = self._age(self._cache.attempted_at)
        return age is not None and timedelta(0) <= age < timedelta(seconds=self.cooldown)

    def _age(self, since: datetime | None) -> timedelta | None:
        # A clock that jumped backwards gives a negative age: it allows one fresh fetch.
        return None if since is None else self.clock.now() - since

    async def _refresh(self) -> None:
        cache = self._cache
        seen = cache.attempts
        async with cache.lock:
            if cache.attempts != seen or self._is_cooling_down():
                return  # another caller just fetched, or one fetch per cooldown is enough
            try:
                keys = await self._fetch()
            except _JwksFetchError as exc:
                _log.warning(
                    "JWKS fetch from %s failed (%s); serving %d cached keys",
                    self.url,
                    exc,
                    len(cache.keys),
                )
                keys = None
            # Cancellation skips this, so a waiting caller fetches instead of trusting the void.
            cache.attempts += 1
            cache.attempted_at = self.clock.now()
            if keys is not None:
                cache.keys = keys
                cache.fetched_at = cache.attempted_at
                _log.info("JWKS from %s: kids %s", self.url, sorted(keys))

    async def _fetch(self) -> dict[str, RSAPublicKey]:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._get_with_one_retry()
        except TimeoutError as exc:
            raise _JwksFetchError(f"no answer within {self.timeout} s") from exc
        return _parse_jwks(response)

    async def _get_with_one_retry(self) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        for retry in (False, True):
            if retry:
                await asyncio.sleep(_RETRY_DELAY)
            try:
                response = await self.client.get(self.url, headers=headers)
            except httpx.TransportError as exc:
                if retry:
                    raise _JwksFetchError(f"transport error {type(exc).__name__}") from exc
                continue
            except httpx.HTTPError as exc:
                raise _JwksFetchError(f"HTTP error {type(exc).__name__}") from exc
            if response.status_code < _SERVER_ERROR or retry:
                return response
        raise AssertionError("unreachable")  # pragma: no cover


def _parse_jwks(response: httpx.Response) -> dict[str, RSAPublicKey]:
    if response.status_code != httpx.codes.OK:
        raise _JwksFetchError(f"status {response.status_code}")
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise _JwksFetchError(f"content type {content_type!r}")
    try:
        document = json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise _JwksFetchError("malformed JSON") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _JwksFetchError("no `keys` array")
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        try:
            kid, key = _signing_key(entry)
        except _KeyRejectedError as exc:
            _log.debug("JWKS entry skipped: %s", exc)
            continue
        keys[kid] = key
    if not keys:
        raise _JwksFetchError("no usable RS256 signing key")
    return keys


def _signing_key(entry: Any) -> tuple[str, RSAPublicKey]:  # noqa: ANN401 - untrusted JSON
    if not isinstance(entry, dict):
        raise _KeyRejectedError("not an object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _KeyRejectedError("no kid")
    if entry.get("kty") != "RSA":
        raise _KeyRejectedError(f"{kid}: kty is not RSA")
    if entry.get("alg", "RS256") != "RS256":
        raise _KeyRejectedError(f"{kid}: alg is not RS256")
    if entry.get("use", "sig") != "sig":
        raise _KeyRejectedError(f"{kid}: use is not sig")
    try:
        numbers = RSAPublicNumbers(e=_uint(entry.get("e")), n=_uint(entry.get("n")))
        return kid, require_rsa_key(numbers.public_key())
    except ValueError as exc:
        raise _KeyRejectedError(f"{kid}: {exc}") from exc


def _uint(value: object) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("missing RSA parameter")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("RSA parameter is not base64url") from exc
    return int.from_bytes(raw, "big")


def _b64_uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


if TYPE_CHECKING:
    _pem_conforms: type[KeySource] = PemKeySource
    _static_conforms: type[KeySource] = StaticKeySource
    _jwks_conforms: type[KeySource] = JwksKeySource
