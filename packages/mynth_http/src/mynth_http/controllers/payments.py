"""Buying token packs (Polar checkout) and the provider webhooks that settle them."""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import JSONBody

from mynth_adapters.inbound import ClerkWebhooks, PolarWebhooks
from mynth_core.billing.services import StartCheckout
from mynth_core.identity import Principal
from mynth_core.webhooks import WebhookOutcome
from mynth_http.di import Injected
from mynth_http.logging import log_event
from mynth_http.problems import problem_responses

_log = logging.getLogger("mynth.webhooks")
HOOK: Final = problem_responses(400, 401, 413)


class CheckoutIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which pack to buy (`pack_100`, `pack_500`, `pack_1000`)."""

    pack_id: str


class CheckoutOut(msgspec.Struct, kw_only=True):
    """A Polar checkout session; redirect the browser to `url`."""

    checkout_id: str
    url: str


class WebhookOut(msgspec.Struct, kw_only=True):
    """What became of a delivery: processed, duplicate (200) or ignored (202)."""

    status: WebhookOutcome


def acknowledge(source: str, outcome: WebhookOutcome) -> Response[WebhookOut]:
    """200 for a processed or duplicate delivery, 202 for one that was ignored."""
    log_event(_log, "webhook.received", source=source, outcome=outcome.value)
    status = 202 if outcome is WebhookOutcome.IGNORED else 200
    return Response(WebhookOut(status=outcome), status_code=status)


class CheckoutController(Controller):
    """`/v1/checkouts`: open a Polar checkout for a pack; nothing is credited yet."""

    path = "/v1/checkouts"
    tags = ["payments"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/",
        operation_id="CreateCheckout",
        responses=problem_responses(400, 401, 413, 415, 422, 502, 503),
        summary="Start buying a token pack",
    )
    async def create_checkout(
        self,
        principal: Injected[Principal],
        data: JSONBody[CheckoutIn],
        start_checkout: Injected[StartCheckout],
    ) -> CheckoutOut:
        checkout = await start_checkout(principal, data.pack_id)
        return CheckoutOut(checkout_id=checkout.id, url=checkout.url)


class WebhookController(Controller):
    """`/v1/webhooks`: signed deliveries; acknowledged only once their effect is committed."""

    path = "/v1/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/polar", operation_id="ReceivePolarWebhook", responses=HOOK, summary="Polar events")
    async def polar(
        self, request: Request[Any, Any, Any], polar_webhooks: Injected[PolarWebhooks]
    ) -> Response[WebhookOut]:
        outcome = await polar_webhooks(dict(request.headers), await request.body())
        return acknowledge("polar", outcome)

    @post("/clerk", operation_id="ReceiveClerkWebhook", responses=HOOK, summary="Clerk events")
    async def clerk(
        self, request: Request[Any, Any, Any], clerk_webhooks: Injected[ClerkWebhooks]
    ) -> Response[WebhookOut]:
        outcome = await clerk_webhooks(dict(request.headers), await request.body())
        return acknowledge("clerk", outcome)
