"""A fake Clerk: JWKS endpoints on a real 127.0.0.1 socket and a session-token factory."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

import attrs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from providers.server import LoopbackServer

FAKE_ISSUER: Final = "https://clerk.example.test"
FAKE_ORIGIN: Final = "https://app.example.test"
FAKE_SECRET_KEY: Final = "sk_test_fake_clerk_secret_key"
FRONTEND_JWKS_PATH: Final = "/.well-known/jwks.json"
BACKEND_JWKS_PATH: Final = "/v1/jwks"
DEFAULT_SUB: Final = "user_2q7Pz5tXo9Wd1LmN"
DEFAULT_SID: Final = "sess_2q7PzQ0v4mYb8KcR"

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class Absent(Enum):
    """Marks a header field or claim the token must not carry at all."""

    ABSENT = "absent"


ABSENT: Final = Absent.ABSENT


# --- keys ---------------------------------------------------------------------------------


@attrs.frozen
class ClerkKey:
    """An RSA-2048 signing key under a Clerk-style `kid` (`ins_…`)."""

    kid: str
    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)

    @classmethod
    def generate(cls, kid: str | None = None) -> ClerkKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or f"ins_{secrets.token_hex(8)}", key)

    def under(self, kid: str) -> ClerkKey:
        """The same key pair published under another `kid`."""
        return ClerkKey(kid, self.private_key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, str]:
        """The JWKS entry exactly as Clerk shapes it (no `key_ops`)."""
        jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256"} | {
            "n": jwk["n"],
            "e": jwk["e"],
        }


def jwks_document(keys: Sequence[ClerkKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.jwk() for key in keys]}


# --- tokens -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, object]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


_HMAC_HASHES: Final = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_RSA_HASHES: Final = {"RS384": hashes.SHA384, "RS512": hashes.SHA512}


def sign_compact(
    header: Mapping[str, object],
    claims: Mapping[str, object],
    *,
    key: ClerkKey,
    hmac_secret: bytes | None = None,
) -> str:
    """Hand-sign a compact JWS; the header's `alg` picks the math, so it can lie or be hostile.

    `none` → empty signature; `HS*` → HMAC with `hmac_secret` (default: the public key's PEM,
    the classic RS/HS confusion attack); `RS384`/`RS512` → that hash; anything else → RS256.
    """
    signing_input = f"{_segment(header)}.{_segment(claims)}".encode()
    alg = header.get("alg")
    if alg == "none":
        signature = b""
    elif isinstance(alg, str) and alg in _HMAC_HASHES:
        secret = key.public_pem() if hmac_secret is None else hmac_secret
        signature = hmac.new(secret, signing_input, _HMAC_HASHES[alg]).digest()
    else:
        digest = _RSA_HASHES.get(alg, hashes.SHA256) if isinstance(alg, str) else hashes.SHA256
        signature = key.private_key.sign(signing_input, padding.PKCS1v15(), digest())
    return f"{signing_input.decode()}.{_b64(signature)}"


def _put(target: dict[str, object], name: str, value: object, default: object) -> None:
    """`None` → `default`, `ABSENT` → omitted, anything else → verbatim."""
    chosen = default if value is None else value
    if chosen is not ABSENT:
        target[name] = chosen


@attrs.frozen(kw_only=True)
class ClerkTokens:
    """Mints Clerk session tokens (v2, PROVIDERS §3.4) with every header field and claim open.

    Each `mint` argument: `None` keeps the realistic default, `ABSENT` drops the field, any
    other value is used verbatim (wrong types included). Times are Unix seconds; defaults are
    `iat = now`, `nbf = now - 10`, `exp = now + 60`, like Clerk's.
    """

    key: ClerkKey
    now: datetime
    issuer: str = FAKE_ISSUER
    azp: str = FAKE_ORIGIN

    @property
    def epoch(self) -> int:
        """`now` as Unix seconds, for arithmetic on `exp`/`nbf`/`iat`."""
        return int(self.now.timestamp())

    def mint(
        self,
        *,
        sub: object = None,
        sid: object = None,
        iss: object = None,
        azp: object = None,
        exp: object = None,
        nbf: object = None,
        iat: object = None,
        sts: object = ABSENT,
        extra: Mapping[str, object] | None = None,
        kid: object = None,
        alg: object = None,
        typ: object = None,
        signing_key: ClerkKey | None = None,
        hmac_secret: bytes | None = None,
    ) -> str:
        header: dict[str, object] = {}
        _put(header, "alg", alg, "RS256")
        _put(header, "kid", kid, self.key.kid)
        _put(header, "typ", typ, "JWT")
        claims: dict[str, object] = {}
        _put(claims, "azp", azp, self.azp)
        _put(claims, "exp", exp, self.epoch + 60)
        _put(claims, "iat", iat, self.epoch)
        _put(claims, "iss", iss, self.issuer)
        _put(claims, "jti", None, secrets.token_hex(10))
        _put(claims, "nbf", nbf, self.epoch - 10)
        _put(claims, "sid", sid, DEFAULT_SID)
        _put(claims, "sts", sts, ABSENT)
        _put(claims, "sub", sub, DEFAULT_SUB)
        claims |= {"v": 2, "fva": [3, -1]} | dict(extra or {})
        return sign_compact(header, claims, key=signing_key or self.key, hmac_secret=hmac_secret)


# --- the JWKS server ----------------------------------------------------------------------


@attrs.frozen
class Reply:
    """One scripted JWKS answer; `body=None` means the currently published key set."""

    status: int = 200
    body: bytes | None = None
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before the status line


def slow(seconds: float) -> Reply:
    return Reply(delay=seconds)


def server_error(status: int = 500) -> Reply:
    body = {"errors": [{"code": "internal_error", "message": "boom"}], "clerk_trace_id": "t1"}
    return Reply(status=status, body=json.dumps(body).encode())


def malformed_json() -> Reply:
    return Reply(body=b'{"keys": [{"use": "sig", "kty": "RSA", "kid": "ins_')


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)


class FakeClerk:
    """Clerk's JWKS endpoints served by uvicorn in a background thread on 127.0.0.1:<port 0>.

    `/.well-known/jwks.json` needs no auth; `/v1/jwks` needs `Bearer <secret_key>`. Replies
    come from a FIFO (`script`), shared by both routes, else the published key set. Every
    request is recorded. Use `with FakeClerk.running([key]) as clerk:` (one per session is
    enough: `reset()` between tests); `stop()` turns the port into a refused connection.
    """

    def __init__(self, keys: Sequence[ClerkKey], *, secret_key: str = FAKE_SECRET_KEY) -> None:
        self.secret_key = secret_key
        self._lock = threading.Lock()
        self._keys: dict[str, ClerkKey] = {key.kid: key for key in keys}
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._loopback = LoopbackServer(self._app, name="fake-clerk", log_level="warning")

    @classmethod
    @contextmanager
    def running(
        cls, keys: Sequence[ClerkKey], *, secret_key: str = FAKE_SECRET_KEY
    ) -> Iterator[FakeClerk]:
        fake = cls(keys, secret_key=secret_key)
        fake.start()
        try:
            yield fake
        finally:
            fake.stop()

    # lifecycle

    def start(self) -> None:
        self._loopback.start()

    def stop(self) -> None:
        """Shut down and free the port (idempotent); later connections are refused."""
        self._loopback.stop()

    @property
    def port(self) -> int:
        """The port it listens on (or did: it stays known, and refused, after `stop()`)."""
        if self._loopback.port is None:
            raise RuntimeError("the fake Clerk is not started")
        return self._loopback.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        """Clerk's `iss` is its Frontend API URL, which also serves the JWKS."""
        return self.base_url

    @property
    def jwks_url(self) -> str:
        return self.base_url + FRONTEND_JWKS_PATH

    @property
    def backend_jwks_url(self) -> str:
        return self.base_url + BACKEND_JWKS_PATH

    def tokens(self, key: ClerkKey, *, now: datetime | None = None) -> ClerkTokens:
        """A token factory whose `iss` is this server."""
        return ClerkTokens(key=key, now=now or datetime.now(UTC), issuer=self.issuer)

    # keys and faults

    def reset(self, keys: Sequence[ClerkKey]) -> None:
        """Publish exactly `keys`, drop scripted replies and forget recorded requests."""
        with self._lock:
            self._keys = {key.kid: key for key in keys}
            self._script.clear()
            self._requests.clear()

    def publish(self, *keys: ClerkKey) -> None:
        """Add keys to the JWKS (rotation in), replacing any with the same `kid`."""
        with self._lock:
            self._keys |= {key.kid: key for key in keys}

    def retire(self, *kids: str) -> None:
        """Remove keys from the JWKS (rotation out)."""
        with self._lock:
            for kid in kids:
                self._keys.pop(kid, None)

    @property
    def published(self) -> tuple[ClerkKey, ...]:
        with self._lock:
            return tuple(self._keys.values())

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next JWKS requests, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    def count(self, path: str | None = None) -> int:
        """Requests received so far, on `path` or on any path."""
        return sum(1 for r in self.requests if path is None or r.path == path)

    # the ASGI app

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        if scope["type"] != "http":
            return
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        request = RecordedRequest(scope["method"], scope["path"], headers, time.monotonic())
        with self._lock:
            self._requests.append(request)
            known_route = request.path in {FRONTEND_JWKS_PATH, BACKEND_JWKS_PATH}
            reply = self._script.popleft() if known_route and self._script else Reply()
            document = jwks_document(list(self._keys.values()))
        if not known_route or request.method != "GET":
            await _respond(send, 404, b'{"errors": [{"code": "resource_not_found"}]}')
            return
        if request.path == BACKEND_JWKS_PATH and not hmac.compare_digest(
            request.header("authorization") or "", f"Bearer {self.secret_key}"
        ):
            await _respond(send, 401, b'{"errors": [{"code": "authentication_invalid"}]}')
            return
        await self._pause(reply.delay)
        body = json.dumps(document).encode() if reply.body is None else reply.body
        await _respond(send, reply.status, body, reply.content_type)

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:  # stop() cuts a slow reply short instead of waiting for it
            await asyncio.to_thread(self._loopback.stopping.wait, seconds)


async def _respond(
    send: Send, status: int, body: bytes, content_type: str = "application/json"
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
