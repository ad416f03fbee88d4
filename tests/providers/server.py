"""A real HTTP server on 127.0.0.1 for a fake provider: uvicorn in a thread, port 0."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

import attrs
import uvicorn


class Sleeps:
    """A sleep that records its waits and returns at once: what a provider adapter under
    test is given in place of `asyncio.sleep`, so its retry waits can be asserted."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class LoopbackServer:
    """Serves an ASGI app on a free loopback port until `stop()`; restartable.

    `stopping` is set while shutting down, so a scripted slow reply can end early.
    """

    def __init__(self, app: Any, *, name: str, log_level: str = "warning") -> None:
        self.app, self.name, self.log_level = app, name, log_level
        self.stopping = threading.Event()
        self.port: int | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stopping.clear()
        # IPPROTO_TCP (not 0) makes asyncio set TCP_NODELAY on accepted connections; without
        # it every small write after the first waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            interface="asgi3",
            lifespan="off",
            ws="none",
            http="h11",
            loop="asyncio",
            log_level=self.log_level,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._socket, self._server, self._thread = sock, server, thread
        thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.002)

    def stop(self) -> None:
        """Shut down and free the port (idempotent); later connections are refused."""
        self.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None


class FakeServer:
    """Base of the fake providers: their loopback server's lifecycle and address.

    A subclass builds `self._loopback = LoopbackServer(...)` in its `__init__`.
    """

    _loopback: LoopbackServer

    @classmethod
    @contextmanager
    def running(cls, **options: Any) -> Iterator[Self]:
        """A started fake, stopped when the block ends."""
        fake = cls(**options)
        fake.start()
        try:
            yield fake
        finally:
            fake.stop()

    def start(self) -> None:
        self._loopback.start()

    def stop(self) -> None:
        """Shut down and free the port (idempotent); later connections are refused."""
        self._loopback.stop()

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>` while started."""
        if self._loopback.port is None:
            msg = f"{self._loopback.name} is not started"
            raise RuntimeError(msg)
        return f"127.0.0.1:{self._loopback.port}"


@attrs.frozen
class RecordedRequest:
    """One request a fake received, as it arrived."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at: float  # time.monotonic() on arrival
    peer: str = ""  # the client's `host:port`: equal for requests on one kept-alive connection

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


R = TypeVar("R", bound=RecordedRequest)


async def record_request(scope: Any, receive: Any, kind: type[R]) -> R:
    """Read the whole body of an ASGI request and record it as `kind`."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return kind(
        scope["method"],
        scope["path"],
        scope["query_string"].decode("latin-1"),
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
        b"".join(chunks),
        time.monotonic(),
        ":".join(map(str, scope.get("client") or ())),
    )
