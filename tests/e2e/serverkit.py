"""The real `mynth` command for end-to-end tests and benches: a served process, dev tokens.

Imported as `e2e.serverkit` (tests/ is on `sys.path` under pytest; the benches put it there).
Only the standard library, attrs and httpx (asyncpg and SQLAlchemy's URL for a scratch
Postgres database), so a bench process can use it without pytest.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

import asyncpg
import attrs
import httpx
from sqlalchemy.engine import make_url

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


def kill_hard(server: MynthServer) -> None:
    """SIGKILL the server, as a crash would: no shutdown, no lifespan exit, leases kept.

    `serving`'s own SIGTERM afterwards finds the process gone and does nothing.
    """
    server.process.kill()
    server.process.wait(timeout=STOP_SECONDS)


@attrs.frozen
class MynthWorker:
    """A running `mynth worker`: its process, log file and worker id (`host:pid:hex`)."""

    process: subprocess.Popen[bytes]
    log: Path
    worker_id: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


WORKER_STARTED: Final = re.compile(r"^job worker (\S+) started")


@contextmanager
def working(env: Mapping[str, str], log: Path, *extra: str) -> Iterator[MynthWorker]:
    """Run `mynth worker [extra…]` until it logs that its worker started; SIGTERM it after.

    A worker stopped by SIGTERM finishes its running jobs and exits with status 0, for the
    caller to check after the block.

    Raises:
        RuntimeError: the worker exited or did not start within READY_SECONDS (with its log).
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [MYNTH, "worker", *extra], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            worker_id = _wait_started(process, log)
            yield MynthWorker(process, log, worker_id)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise


def _wait_started(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            try:
                event = str(json.loads(line).get("event", ""))
            except (ValueError, AttributeError):
                continue
            if started := WORKER_STARTED.match(event):
                return started.group(1)
        time.sleep(0.05)
    raise RuntimeError(f"mynth worker did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def scratch_database(url: str, prefix: str = "mynth_e2e") -> Iterator[str]:
    """A new, empty Postgres database beside `url`'s, as a URL of the same form; dropped
    afterwards (WITH FORCE, so lingering connections do not keep it).

    Raises:
        OSError, asyncpg.PostgresError: Postgres is unreachable or refused the database.
    """
    base = make_url(url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
