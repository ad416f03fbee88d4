"""A fake Polar API on a real 127.0.0.1 socket, and Polar webhook payloads (PROVIDERS §4).

`POST /v1/checkouts/` and `GET /v1/checkouts/{id}` speak Polar's protocol (Bearer OAT, 201,
422 `detail[]`, 404 typed errors); the slash-less `/v1/checkouts` answers 307 like Polar's
router. Scripted faults (PROVIDERS §0.5, §4.8) are served first, in order, to the next
checkout requests; every request is recorded.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from providers.server import FakeServer, LoopbackServer

FAKE_ACCESS_TOKEN: Final = "polar_oat_fake0access0token0for0tests"
CHECKOUTS_PATH: Final = "/v1/checkouts/"
PRODUCT_100: Final = "0b1c2d3e-0000-4000-8000-000000000100"
PRODUCT_500: Final = "9b2f0c1e-7a6d-4e3b-8c5a-2d1e0f9a8b7c"
PRODUCT_1000: Final = "0b1c2d3e-0000-4000-8000-000000001000"
PRODUCTS: Final = {"pack_100": PRODUCT_100, "pack_500": PRODUCT_500, "pack_1000": PRODUCT_1000}
PRICES: Final = {PRODUCT_100: 149, PRODUCT_500: 699, PRODUCT_1000: 999}

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


# --- scripted replies -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted answer; `body=None` means the correct happy-path answer."""

    status: int = 201
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before the status line (slow first byte)
    truncate_after: int | None = None  # send this many body bytes, then close the connection
    no_response: bool = False  # close the connection without any response


def rate_limited(retry_after: str | None = "1") -> Reply:
    """429, as Polar answers past 300 requests/minute; `retry_after` in seconds or an HTTP-date."""
    headers = () if retry_after is None else (("retry-after", retry_after),)
    return Reply(status=429, body=b'{"detail": "Too Many Requests"}', headers=headers)


def server_error(status: int = 500) -> Reply:
    return Reply(status=status, body=b'{"error": "InternalServerError", "detail": "boom"}')


def html_bad_gateway() -> Reply:
    """A proxy's HTML 502 page: not JSON at all."""
    body = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    return Reply(status=502, body=body, content_type="text/html")


def malformed_json() -> Reply:
    """A 201 whose JSON is cut mid-object."""
    return Reply(body=b'{"id": "3c8e1f0a-5b2d-4c7e", "status": "open", "url": "https://bu')


def not_json() -> Reply:
    return Reply(body=b"OK", content_type="text/plain")


def slow(seconds: float) -> Reply:
    """The correct answer, after `seconds` of silence."""
    return Reply(delay=seconds)


def truncated(after: int = 10) -> Reply:
    """The correct answer's headers, `after` bytes of its body, then a closed connection."""
    return Reply(truncate_after=after)


def connection_closed() -> Reply:
    """The connection closes without a response (`RemoteProtocolError` in httpx)."""
    return Reply(no_response=True)


def unauthorized() -> Reply:
    body = {"error": "invalid_token", "error_description": "The access token is invalid."}
    return Reply(status=401, body=json.dumps(body).encode())


def unprocessable(field: str = "products") -> Reply:
    detail = [{"loc": ["body", field], "msg": "Field required", "type": "missing", "input": {}}]
    return Reply(status=422, body=json.dumps({"detail": detail}).encode())


def redirect(location: str = "/v1/checkouts") -> Reply:
    """A 307 elsewhere: mynth follows no redirects, so this must surface as an error."""
    return Reply(status=307, body=b"", headers=(("location", location),))


def http_date(at: datetime) -> str:
    """`at` as an RFC 9110 HTTP-date (`Wed, 01 Jan 2026 00:00:07 GMT`)."""
    return at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


# --- recorded requests ----------------------------------------------------------------------


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


# --- the server -----------------------------------------------------------------------------


class FakePolar(FakeServer):
    """Polar's checkout API served by uvicorn in a background thread on 127.0.0.1:<port 0>.

    Use `with FakePolar.running() as polar:` (one per session is enough: `reset()` between
    tests). `products` are the product ids Polar knows; any other gets a 422.
    """

    def __init__(
        self,
        *,
        access_token: str = FAKE_ACCESS_TOKEN,
        products: Mapping[str, int] = PRICES,
    ) -> None:
        self.access_token = access_token
        self.products = dict(products)  # product id -> price in cents
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._checkouts: dict[str, dict[str, Any]] = {}
        self._loopback = LoopbackServer(self._app, name="fake-polar", log_level="critical")

    @property
    def base_url(self) -> str:
        """The API root, as in `PolarSettings.api_url` (paths start with `/v1`)."""
        return f"http://{self.address}"

    # scripting and inspection

    def reset(self) -> None:
        """Drop scripted replies, recorded requests and created checkouts."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._checkouts.clear()

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next checkout requests (`/v1/checkouts/...`), in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    def checkout(self, checkout_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._checkouts[checkout_id])

    @property
    def checkouts(self) -> tuple[dict[str, Any], ...]:
        with self._lock:
            return tuple(dict(c) for c in self._checkouts.values())

    # the ASGI app

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http":
            return None
        body = await _read_body(receive)
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        request = RecordedRequest(
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            headers,
            body,
            time.monotonic(),
        )
        with self._lock:
            self._requests.append(request)
            scripted = request.path.startswith("/v1/checkouts") and bool(self._script)
            reply = self._script.popleft() if scripted else None
        if reply is None:
            reply = self._route(request)
        if reply.delay > 0:  # stop() cuts a slow reply short instead of waiting for it
            await asyncio.to_thread(self._loopback.stopping.wait, reply.delay)
        if reply.no_response:
            # uvicorn closes the transport, sending nothing, when an app returns a value
            # before starting its response: the only way to drop a connection through ASGI.
            return "drop"
        await _respond(send, reply, self._happy_body(request) if reply.body is None else reply.body)
        return None

    def _route(self, request: RecordedRequest) -> Reply:
        if request.path == "/v1/checkouts":
            return redirect(CHECKOUTS_PATH)
        if not request.path.startswith(CHECKOUTS_PATH):
            return _error(404, "ResourceNotFound", "Not found")
        if not hmac.compare_digest(
            request.header("authorization") or "", f"Bearer {self.access_token}"
        ):
            return unauthorized()
        if request.method == "POST" and request.path == CHECKOUTS_PATH:
            return self._validate_create(request)
        checkout_id = request.path.removeprefix(CHECKOUTS_PATH).rstrip("/")
        if request.method == "GET" and checkout_id in self._checkouts:
            return Reply(status=200)
        return _error(404, "ResourceNotFound", "Not found")

    def _validate_create(self, request: RecordedRequest) -> Reply:  # noqa: PLR0911 - one per rule
        try:
            payload = request.json()
        except ValueError:
            return _invalid("body", "JSON decode error", "json_invalid")
        if not isinstance(payload, dict):
            return _invalid("body", "Input should be a valid dictionary", "dict_type")
        products = payload.get("products")
        if not products:
            return unprocessable("products")
        if not isinstance(products, list) or any(p not in self.products for p in products):
            return _invalid("products", "Product does not exist.", "value_error")
        metadata = payload.get("metadata", {})
        if not isinstance(metadata, dict) or not _metadata_ok(metadata):
            return _invalid("metadata", "Metadata exceeds the limits.", "value_error")
        if "customer_external_id" in payload:  # renamed mid-2025; the old name is refused
            return _invalid("customer_external_id", "Extra inputs are not permitted", "extra")
        return Reply(status=201)

    def _happy_body(self, request: RecordedRequest) -> bytes:
        if request.method == "GET":
            checkout_id = request.path.removeprefix(CHECKOUTS_PATH).rstrip("/")
            with self._lock:
                return json.dumps(self._checkouts[checkout_id]).encode()
        payload = request.json()
        document = self._new_checkout(payload)
        with self._lock:
            self._checkouts[document["id"]] = document
        return json.dumps(document).encode()

    def _new_checkout(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        product = payload["products"][0]
        secret = f"polar_c_{uuid.uuid4().hex[:24]}"
        created = datetime.now(UTC)
        amount = self.products[product]
        return {
            "id": str(uuid.uuid4()),
            "status": "open",
            "url": f"https://buy.polar.sh/{secret}",
            "client_secret": secret,
            "expires_at": _iso(created + timedelta(hours=1)),
            "success_url": payload.get("success_url"),
            "product_id": product,
            "products": [{"id": p} for p in payload["products"]],
            "amount": amount,
            "total_amount": amount,
            "currency": "usd",
            "customer_id": None,
            "external_customer_id": payload.get("external_customer_id"),
            "metadata": payload.get("metadata", {}),
            "created_at": _iso(created),
            "modified_at": None,
        }


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, reply: Reply, body: bytes) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", b"%d" % len(body)),
        *((k.encode(), v.encode()) for k, v in reply.headers),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.truncate_after is None:
        await send({"type": "http.response.body", "body": body})
    else:  # returning with the body incomplete makes uvicorn close the connection
        await send(
            {"type": "http.response.body", "body": body[: reply.truncate_after], "more_body": True}
        )


def _error(status: int, error: str, detail: str) -> Reply:
    return Reply(status=status, body=json.dumps({"error": error, "detail": detail}).encode())


def _invalid(field: str, message: str, kind: str) -> Reply:
    detail = [{"loc": ["body", field], "msg": message, "type": kind, "input": None}]
    return Reply(status=422, body=json.dumps({"detail": detail}).encode())


def _metadata_ok(metadata: Mapping[str, Any]) -> bool:
    max_pairs, max_key, max_value = 50, 40, 500
    return len(metadata) <= max_pairs and all(
        len(key) <= max_key
        and isinstance(value, str | int | float | bool)
        and (not isinstance(value, str) or len(value) <= max_value)
        for key, value in metadata.items()
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- webhook payloads -----------------------------------------------------------------------

_order_numbers = itertools.count(1)


def order_data(
    *,
    order_id: str | None = None,
    user_id: str | None = "user_2q7Pz5tXo9Wd1LmN",
    external_id: str | None = "user_2q7Pz5tXo9Wd1LmN",
    pack_id: str | None = "pack_500",
    product_id: str | None = PRODUCT_500,
    checkout_id: str | None = "3c8e1f0a-5b2d-4c7e-9a1f-6d0b2e4c8a13",
    total_amount: int = 699,
    refunded_amount: int = 0,
    status: str = "paid",
) -> dict[str, Any]:
    """A Polar Order as in PROVIDERS §4.5; `None` fields are sent as JSON null."""
    customer_id = "c0ffee00-1234-4abc-8def-001122334455"
    metadata = {k: v for k, v in {"user_id": user_id, "pack_id": pack_id}.items() if v}
    return {
        "id": order_id or f"e1d2c3b4-a596-4877-8899-{next(_order_numbers):012d}",
        "status": status,
        "paid": True,
        "billing_reason": "purchase",
        "checkout_id": checkout_id,
        "customer_id": customer_id,
        "customer": {"id": customer_id, "external_id": external_id, "email": "ada@example.com"},
        "product_id": product_id,
        "product": None if product_id is None else {"id": product_id},
        "metadata": metadata,
        "subtotal_amount": total_amount,
        "net_amount": total_amount,
        "tax_amount": 0,
        "total_amount": total_amount,
        "refunded_amount": refunded_amount,
        "currency": "usd",
        "created_at": "2026-01-01T00:04:58Z",
    }


def event(event_type: str, data: Mapping[str, Any], *, at: str = "2026-01-01T00:05:00Z") -> bytes:
    """A webhook body as Polar sends it: compact JSON bytes."""
    return json.dumps({"type": event_type, "timestamp": at, "data": data}).encode()


def order_paid(**fields: Any) -> bytes:
    return event("order.paid", order_data(**fields))


def order_refunded(*, refunded_amount: int, **fields: Any) -> bytes:
    status = (
        "refunded" if refunded_amount >= fields.get("total_amount", 699) else "partially_refunded"
    )
    return event(
        "order.refunded", order_data(refunded_amount=refunded_amount, status=status, **fields)
    )


def completed_checkout_events(checkout: Mapping[str, Any]) -> Sequence[bytes]:
    """What Polar sends when the buyer pays on `checkout`: checkout.updated, order.created/paid."""
    metadata = checkout.get("metadata") or {}
    order = order_data(
        user_id=metadata.get("user_id"),
        external_id=checkout.get("external_customer_id"),
        pack_id=metadata.get("pack_id"),
        product_id=checkout["product_id"],
        checkout_id=checkout["id"],
        total_amount=checkout["total_amount"],
    )
    updated = dict(checkout, status="succeeded")
    return (
        event("checkout.updated", updated),
        event("order.created", dict(order, status="pending", paid=False)),
        event("order.paid", order),
    )
