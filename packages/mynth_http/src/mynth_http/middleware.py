"""The edge: one pure-ASGI wrapper for request ids, the body limit and the access log.

It wraps Litestar's whole handler (routing included), so 404 and 405 answers get a request
id and a log line too. Media-type checks need the route, so they live in `JsonOnlyRequest`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any, Final

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from mynth_http.logging import RequestContext, current_request, log_event
from mynth_http.problems import HTTP_PROBLEMS, INTERNAL_ERROR, PROBLEM_JSON, Problem, encode_problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REQUEST_ID: Final = b"x-request-id"
_SANE_ID: Final = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")
_log = logging.getLogger("mynth.http")


class EdgeMiddleware:
    """Request id in and out, 413 by Content-Length before anything reads, one access log line."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, trusted_proxies: Iterable[Network] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = tuple(trusted_proxies)
        self._salt = secrets.token_bytes(16)  # ip_hash is stable per process, not reversible

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, length, forwarded = _read_headers(scope["headers"])
        context = RequestContext(request_id)
        token = current_request.set(context)
        id_header = (REQUEST_ID, request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    *context.response_headers,
                    id_header,
                ]
            await send(message)

        try:
            if length is not None and length > self.max_body_bytes:
                await _send_problem(send_with_id, HTTP_PROBLEMS[413])
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:  # noqa: BLE001 - the last line of defence: log, answer 500
            _log.exception("http.unhandled_error", extra={"fields": {"path": scope["path"]}})
            if status == 0:
                await _send_problem(send_with_id, INTERNAL_ERROR)
        finally:
            self._access_log(scope, context, status, started, forwarded)
            current_request.reset(token)

    def _access_log(
        self,
        scope: Scope,
        context: RequestContext,
        status: int,
        started: float,
        forwarded: bytes | None,
    ) -> None:
        fields: dict[str, Any] = {
            "method": scope["method"],  # type: ignore[typeddict-item]
            "path": scope["path"],
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if context.user_id is None:
            ip = client_ip(scope, forwarded, self.trusted_proxies)
            fields["ip_hash"] = hashlib.sha256(self._salt + ip.encode()).hexdigest()[:32]
        log_event(_log, "http.request", **fields)


def _read_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, int | None, bytes | None]:
    request_id: str | None = None
    length: int | None = None
    forwarded: bytes | None = None
    for name, value in headers:
        if name == REQUEST_ID and _SANE_ID.fullmatch(value):
            request_id = value.decode()
        elif name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"x-forwarded-for":
            forwarded = value
    return request_id or os.urandom(16).hex(), length, forwarded


def client_ip(scope: Scope, forwarded: bytes | None, trusted: tuple[Network, ...]) -> str:
    """The caller's address: the socket peer, or the nearest untrusted X-Forwarded-For hop."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or forwarded is None or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


async def _send_problem(send: Send, problem: Problem) -> None:
    body = encode_problem(problem)
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": problem.status,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


_JSON_TYPE: Final = re.compile(r"application/(?:[\w.+-]+\+)?json", re.IGNORECASE)


class JsonOnlyRequest(Request[Any, Any, Any]):
    """A request whose JSON body is decoded only under a JSON Content-Type (415 otherwise).

    Litestar asks for `json()` only on routes that decode a body and only when one was sent,
    so other routes pay nothing and an empty body is still told which field is missing.
    """

    async def json(self) -> Any:  # noqa: ANN401 - any JSON value
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip()
        if not _JSON_TYPE.fullmatch(media_type):
            raise HTTPException(status_code=415)
        return await super().json()
