"""Session-token verification (Clerk and the local dev issuer) and its key sources."""

from __future__ import annotations

from mynth_adapters.auth.jwt import JwtIdentityVerifier
from mynth_adapters.auth.keys import JwksKeySource, KeySource, PemKeySource, StaticKeySource
from mynth_adapters.auth.local import LOCAL_ISSUER, LocalIssuer

__all__ = [
    "LOCAL_ISSUER",
    "JwksKeySource",
    "JwtIdentityVerifier",
    "KeySource",
    "LocalIssuer",
    "PemKeySource",
    "StaticKeySource",
]
