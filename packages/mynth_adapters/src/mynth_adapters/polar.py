"""Polar: checkout sessions over httpx (PROVIDERS §4.3) and the webhook payloads mynth handles."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx

from mynth_adapters.http_client import RetryPolicy, decode_json, send
from mynth_adapters.webhook_json import parse_envelope
from mynth_core.billing import (
    BillingEvent,
    BillingProvider,
    Checkout,
    IgnoredBillingEvent,
    Order,
    OrderPaid,
    OrderRefunded,
    PackCatalogue,
)
from mynth_core.clock import Clock, SystemClock
from mynth_core.errors import (
    CheckoutUnavailableError,
    MalformedWebhookError,
    PaymentProviderError,
    PaymentRejectedError,
    ProviderBadResponseError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
)
from mynth_core.ids import UserId
from mynth_core.pricing import Pack

_log = logging.getLogger(__name__)

PROVIDER: Final = "polar"
CHECKOUTS_PATH: Final = "/v1/checkouts/"  # the trailing slash matters: redirects are not followed
ORDER_PAID: Final = "order.paid"
ORDER_REFUNDED: Final = "order.refunded"
# PROVIDERS §0.4: connect 5 s, read 15 s, write 10 s, pool 5 s; 20 s overall (the budget).
CHECKOUT_TIMEOUT: Final = httpx.Timeout(connect=5, read=15, write=10, pool=5)
# A user waits on a checkout: 3 attempts within 20 s. Creating a checkout is not idempotent,
# but a retry is harmless: each call opens a new session, nothing is charged until the buyer
# pays on it, and an abandoned session simply expires (PROVIDERS §4.3). So transport errors
# and timeouts are retried too, even though the first request may have reached Polar.
CHECKOUT_RETRY: Final = RetryPolicy(attempts=3, budget=20.0)


@attrs.frozen(kw_only=True)
class PolarBillingProvider:
    """Opens Polar checkout sessions with an Organization Access Token.

    `catalogue` maps packs to Polar product ids; `client` points at the Polar API root (its
    `base_url` without `/v1`) and is built by `provider_client(..., CHECKOUT_TIMEOUT)`.
    """

    client: httpx.AsyncClient
    access_token: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    catalogue: PackCatalogue
    retry: RetryPolicy = CHECKOUT_RETRY
    clock: Clock = attrs.Factory(SystemClock)

    async def create_checkout(self, user_id: UserId, pack: Pack, *, success_url: str) -> Checkout:
        product_id = self.catalogue.product_id(pack.id)
        if product_id is None:
            raise CheckoutUnavailableError(f"pack {pack.id} has no Polar product configured")
        payload = {
            "products": [product_id],
            "success_url": success_url,
            "external_customer_id": user_id,
            "metadata": {"user_id": user_id, "pack_id": pack.id},
        }
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}

        async def attempt() -> Checkout:
            response = await send(
                self.client,
                "POST",
                CHECKOUTS_PATH,
                provider=PROVIDER,
                json_body=payload,
                headers=headers,
                now=self.clock.now,
            )
            return _checkout(decode_json(response, provider=PROVIDER))

        try:
            checkout = await self.retry.run(attempt, provider=PROVIDER)
        except (ProviderRejectedError, ProviderMisconfiguredError) as exc:
            raise PaymentRejectedError(str(exc), status=exc.status) from exc
        except ProviderRateLimitedError as exc:
            raise PaymentProviderError(str(exc), retry_after=exc.retry_after) from exc
        except ProviderError as exc:
            raise PaymentProviderError(str(exc)) from exc
        _log.info("polar checkout %s opened: user %s, %s", checkout.id, user_id, pack.id)
        return checkout


def _checkout(document: Any) -> Checkout:  # noqa: ANN401 - untrusted JSON
    fields = document if isinstance(document, dict) else {}
    checkout_id, url = fields.get("id"), fields.get("url")
    if not isinstance(checkout_id, str) or not checkout_id:
        raise ProviderBadResponseError(f"{PROVIDER}: checkout without an id")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ProviderBadResponseError(f"{PROVIDER}: checkout {checkout_id} without a URL")
    return Checkout(id=checkout_id, url=url)


# --- webhook payloads (PROVIDERS §4.5) --------------------------------------------------------


def parse_polar_event(body: bytes) -> BillingEvent:
    """The billing event in a verified Polar webhook body.

    `order.paid` and `order.refunded` become `OrderPaid`/`OrderRefunded`; any other well-formed
    event is an `IgnoredBillingEvent` (acknowledged, never an error: PROVIDERS §4.7).

    Raises:
        MalformedWebhookError: the body is not JSON, has no `type`, or an order event lacks a
            field mynth needs or carries one of the wrong type (the message names the path).
    """
    envelope = parse_envelope(body, {ORDER_PAID, ORDER_REFUNDED})
    if envelope.data is None:
        return IgnoredBillingEvent(envelope.type)
    order = _order(envelope.data)
    return OrderPaid(order) if envelope.type == ORDER_PAID else OrderRefunded(order)


def _order(data: Mapping[str, Any]) -> Order:
    order_id = _text(data, "id")
    if order_id is None:
        raise MalformedWebhookError("data.id: missing")
    total = _amount(data, "total_amount")
    if total is None:
        raise MalformedWebhookError("data.total_amount: missing")
    metadata = _object(data, "metadata")
    customer = _object(data, "customer")
    return Order(
        id=order_id,
        # `product_id` is nullable in newer API versions: fall back to the embedded product.
        product_id=_text(data, "product_id") or _text(_object(data, "product"), "product.id"),
        customer_external_id=_text(customer, "customer.external_id"),
        user_id=_metadata_text(metadata, "user_id"),
        pack_id=_metadata_text(metadata, "pack_id"),
        checkout_id=_text(data, "checkout_id"),
        total_amount=total,
        refunded_amount=_amount(data, "refunded_amount") or 0,
        currency=_text(data, "currency"),
    )


def _object(data: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    value = data.get(path.rpartition(".")[2])
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedWebhookError(f"data.{path}: not an object")
    return value


def _text(data: Mapping[str, Any], path: str) -> str | None:
    """An optional string; `path` names it in errors and ends with its key."""
    value = data.get(path.rpartition(".")[2])
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedWebhookError(f"data.{path}: not a string")
    return value


def _metadata_text(metadata: Mapping[str, Any], key: str) -> str | None:
    # Metadata values may be numbers or booleans in Polar; mynth only ever writes strings, so
    # anything else is not ours and reads as absent (the use case then finds no match).
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None


def _amount(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedWebhookError(f"data.{name}: not a non-negative integer (cents)")
    return value


if TYPE_CHECKING:
    _conforms: type[BillingProvider] = PolarBillingProvider
