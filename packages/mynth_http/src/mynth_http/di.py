"""The only punq ↔ Litestar glue: `provide(T)` and the one app-wide dependency map."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeAlias, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidationMarker

from mynth_adapters.health import Readiness
from mynth_adapters.inbound import ClerkWebhooks, PolarWebhooks
from mynth_adapters.usecases import USE_CASES
from mynth_core.billing.services import StartCheckout
from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.clock import Clock
from mynth_core.identity import IdentityVerifier, Principal
from mynth_core.images.registry import ImageRegistry
from mynth_core.ledger.services import LedgerPolicy
from mynth_core.pricing import PriceTable
from mynth_core.users import ProvisionUser
from mynth_http.auth import PRINCIPAL, authenticate

T = TypeVar("T")

Injected: TypeAlias = Annotated[NamedDependency[T], SkipValidationMarker()]
"""A handler parameter filled by name from the map below (our own objects: not re-validated)."""


def provide(service: object) -> Provide:
    """A Litestar dependency that resolves `service` from the container of the running app.

    It names `principal` as a sub-dependency, so the caller is authenticated first and the
    two are resolved one after the other: Litestar resolves sibling dependencies in an anyio
    task group, which costs more than everything else a small request does.
    """

    def resolve(state: State, principal: Injected[object]) -> object:  # noqa: ARG001
        return state.container.resolve(service)

    return Provide(resolve, sync_to_thread=False)


async def _principal(request: Request[Any, Any, Any], state: State) -> Principal | None:
    container = state.container
    verifier = container.resolve(IdentityVerifier)
    return await authenticate(request, verifier, container.resolve(ProvisionUser))


def dependency_name(service: type) -> str:
    """`ListPersonaEvents` → `list_persona_events`: the parameter name handlers declare."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", service.__name__).lower()


DEPENDENCIES: Final[Mapping[str, Provide]] = {
    PRINCIPAL: Provide(_principal),
    "readiness": provide(Readiness),
    "clock": provide(Clock),
    "chat_catalogue": provide(ChatCatalogue),
    "image_registry": provide(ImageRegistry),
    "price_table": provide(PriceTable),
    "ledger_policy": provide(LedgerPolicy),
    "start_checkout": provide(StartCheckout),
    "polar_webhooks": provide(PolarWebhooks),
    "clerk_webhooks": provide(ClerkWebhooks),
    **{dependency_name(use_case): provide(use_case) for use_case in USE_CASES},
}
