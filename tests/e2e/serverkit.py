"""The real `mynth` command for end-to-end tests and benches: a served process, dev tokens.

Imported as `e2e.serverkit` (tests/ is on `sys.path` under pytest; the benches put it there).
Only the standard library, attrs and httpx, so a bench process can use it without pytest.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

import attrs
import httpx

MYNTH: Final = str(Path(sys.executable).parent / "mynth")
READY_SECONDS: Final = 30.0
STOP_SECONDS: Final = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mynth_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any MYNTH_* variable, plus a data dir, JSON logs
    and `settings` (`MYNTH_…` names to values)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MYNTH_")}
    return {**clean, "MYNTH_DATA_DIR": str(data_dir), "MYNTH_LOG_FORMAT": "json", **settings}


def dev_token(env: Mapping[str, str], user: str, *extra: str) -> str:
    """A session token from `mynth dev-token --user <user> [extra…]`."""
    done = subprocess.run(  # noqa: S603 - our own command
        [MYNTH, "dev-token", "--user", user, *extra],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@attrs.frozen
class MynthServer:
    """A running `mynth serve`: its base URL, process and log file (stdout and stderr)."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(env: Mapping[str, str], log: Path) -> Iterator[MynthServer]:
    """Run `mynth serve` on a free port until `/readyz` answers 200; SIGTERM it afterwards.

    uvicorn shuts down gracefully, then re-raises the signal: a clean stop leaves the process
    with return code `-SIGTERM`, for the caller to check after the block.

    Raises:
        RuntimeError: the server exited or was not ready within READY_SECONDS (with its log).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [MYNTH, "serve", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        server = MynthServer(base, process, log)
        try:
            _wait_ready(server)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise


def _wait_ready(server: MynthServer) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if httpx.get(f"{server.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"mynth serve did not become ready:\n{server.log_text()}")


DEADLINE: Final = 5.0  # seconds an e2e wait may take; each normally ends within ~1.5 s
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, seconds: float = DEADLINE) -> T:
    """`check()`'s first truthy answer, polled until the deadline (AssertionError after)."""
    deadline = time.monotonic() + seconds
    while True:
        if found := check():
            return found
        if time.monotonic() > deadline:
            msg = f"not within {seconds:g} s: {what}"
            raise AssertionError(msg)
        time.sleep(0.05)


def chunks(text: str, count: int) -> tuple[str, ...]:
    """`text` cut into `count` pieces that join back to it."""
    size = -(-len(text) // count)
    return tuple(text[i : i + size] for i in range(0, len(text), size))


def balance(base: str, headers: Mapping[str, str]) -> int:
    """The caller's token balance (`GET /v1/me`)."""
    me = httpx.get(f"{base}/v1/me", headers=dict(headers), timeout=DEADLINE)
    assert me.status_code == 200, me.text
    return int(me.json()["balance"]["total"])
