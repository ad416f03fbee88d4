"""Who is calling: Bearer header or `__session` cookie → Principal, with lazy provisioning."""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request

from mynth_core.errors import AccountDeletedError, AuthenticationRequiredError, InvalidTokenError
from mynth_core.identity import IdentityVerifier, Principal
from mynth_core.users import ProvisionUser
from mynth_http.logging import bind_user, log_event

SESSION_COOKIE: Final = "__session"
PRINCIPAL: Final = "principal"  # the dependency name handlers declare
_log = logging.getLogger("mynth.auth")


def credential(request: Request[Any, Any, Any]) -> str | None:
    """The presented session token: the Bearer header wins over the cookie.

    Raises:
        InvalidTokenError: an Authorization header that is not `Bearer <token>`.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidTokenError(reason="malformed-authorization-header")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def authenticate(
    request: Request[Any, Any, Any], verifier: IdentityVerifier, provision_user: ProvisionUser
) -> Principal | None:
    """The verified, provisioned caller of a handler that declares `principal`.

    `principal: Principal` requires a token; `principal: Principal | None` also admits
    anonymous callers, but a presented token that fails is still 401 `invalid-token`, never
    anonymous. A handler that does not declare `principal` gets None and no token is read.

    Raises:
        AuthenticationRequiredError: no token on a signed-in route.
        InvalidTokenError: the token failed verification.
        AccountDeletedError: the token's user has been deleted.
    """
    declared = request.route_handler.parsed_fn_signature.parameters.get(PRINCIPAL)
    if declared is None:
        return None
    token = credential(request)
    if token is None:
        if declared.is_optional:
            return None
        raise AuthenticationRequiredError
    try:
        principal = await verifier.verify(token)
        await provision_user(principal)
    except (InvalidTokenError, AccountDeletedError) as exc:
        reason = exc.reason if isinstance(exc, InvalidTokenError) else "account-deleted"
        log_event(_log, "auth.rejected", reason=reason)
        raise
    bind_user(principal.user_id)
    return principal
