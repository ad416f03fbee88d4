"""Who is calling: the Principal and the IdentityVerifier port."""

from __future__ import annotations

from typing import Protocol

import attrs

from mynth_core.ids import UserId


@attrs.frozen
class Principal:
    """A verified caller. `user_id` is the identity provider's `sub`."""

    user_id: UserId
    session_id: str | None = None


class IdentityVerifier(Protocol):
    """**Port**: turns a presented credential into a Principal.

    Raises `InvalidTokenError` (with a reason safe to log, never the token) when the
    credential is malformed, expired, not yet valid, wrongly signed, from another issuer
    or for an origin that is not allowed. Never returns an anonymous principal.
    """

    async def verify(self, token: str) -> Principal: ...
