"""JwtIdentityVerifier: the one RS256 session-token check, for Clerk and local tokens alike."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final, NoReturn

import attrs
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from mynth_adapters.auth.keys import KeySource
from mynth_core.clock import Clock
from mynth_core.errors import InvalidTokenError
from mynth_core.identity import IdentityVerifier, Principal
from mynth_core.ids import UserId

if TYPE_CHECKING:
    from collections.abc import Mapping

ALGORITHM: Final = "RS256"
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "sub", "sid")
MAX_TOKEN_LENGTH: Final = 8192  # Clerk tokens are ~1 KiB; cookies cap at 4 KiB
_COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Signature only: the claims are checked below against the injected clock.
_JWS: Final = jwt.PyJWS(algorithms=[ALGORITHM], options={"enforce_minimum_key_length": True})


@attrs.frozen(kw_only=True)
class JwtIdentityVerifier:
    """Verifies RS256 session JWTs against a KeySource, the configured issuer and origins.

    Checks, in order: compact shape, header `alg == "RS256"` (before any key lookup), the key by
    `kid`, the signature, required claims, `exp`/`nbf`/`iat` with `leeway` seconds against
    `clock`, `iss`, and `azp` when `authorized_parties` is not empty. Every failure is an
    `InvalidTokenError` whose reason is short and never contains the token.
    """

    keys: KeySource
    issuer: str = attrs.field(validator=attrs.validators.min_len(1))
    authorized_parties: frozenset[str] = frozenset()
    leeway: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    clock: Clock
    cache_size: int = 4096
    # token -> (principal, exp): a token that passed every check is not re-verified (an RSA
    # check per request) until it expires; everything else about it is fixed by its signature.
    _verified: OrderedDict[str, tuple[Principal, float]] = attrs.field(
        init=False, factory=OrderedDict, repr=False, eq=False
    )

    async def verify(self, token: str) -> Principal:
        if (known := self._verified.get(token)) is not None:
            principal, exp = known
            if self.clock.now().timestamp() < exp + self.leeway:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, exp = await self._verify(token)
        self._verified[token] = (principal, exp)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        kid = _unverified_kid(token)
        key = await self.keys.key_for(kid)
        claims = _verified_claims(token, key)
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                _reject(f"missing-claim:{name}")
        self._check_times(claims)
        if claims["iss"] != self.issuer:
            _reject("wrong-issuer")
        if self.authorized_parties:
            azp = claims.get("azp")
            if not isinstance(azp, str) or azp not in self.authorized_parties:
                _reject("unauthorized-party")
        sub, sid = _text(claims, "sub"), _text(claims, "sid")
        return Principal(user_id=UserId(sub), session_id=sid), _number(claims, "exp")

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock.now().timestamp()
        if now >= _number(claims, "exp") + self.leeway:
            _reject("expired")
        if "nbf" in claims and now + self.leeway < _number(claims, "nbf"):
            _reject("not-yet-valid")
        if now + self.leeway < _number(claims, "iat"):
            _reject("issued-in-future")


def _unverified_kid(token: str) -> str | None:
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
        _reject("malformed")
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        _reject("malformed")
    if not isinstance(header, dict):
        _reject("malformed")
    if header.get("alg") != ALGORITHM:
        _reject("unsupported-algorithm")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        _reject("malformed")
    return kid


def _verified_claims(token: str, key: RSAPublicKey) -> dict[str, Any]:
    try:
        payload = _JWS.decode_complete(token, key, algorithms=[ALGORITHM])["payload"]
    except jwt.InvalidSignatureError as exc:
        raise InvalidTokenError(reason="bad-signature") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidTokenError(reason="unsupported-algorithm") from exc
    except jwt.InvalidKeyError as exc:
        raise InvalidTokenError(reason="unknown-key") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(reason="malformed") from exc
    try:
        claims = json.loads(payload, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise InvalidTokenError(reason="malformed") from exc
    if not isinstance(claims, dict):
        _reject("malformed")
    return claims


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        _reject(f"invalid-claim:{name}")
    return value


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims[name]
    if not isinstance(value, str) or not value:
        _reject(f"invalid-claim:{name}")
    return value


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _reject(reason: str) -> NoReturn:
    raise InvalidTokenError(reason=reason)


if TYPE_CHECKING:
    _conforms: type[IdentityVerifier] = JwtIdentityVerifier
