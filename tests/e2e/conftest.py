"""End-to-end fixtures: the environment of a real `mynth serve`, and the running server."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.serverkit import mynth_env, serving


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No MYNTH_* variable of the caller's; a fresh data dir, JSON logs. Add settings to it
    before requesting `server`."""
    return mynth_env(tmp_path / "data")


@pytest.fixture
def server_log(tmp_path) -> Path:
    """Where `server` writes its output (JSON log lines)."""
    return tmp_path / "serve.log"


@pytest.fixture
def server(env, server_log) -> Iterator[str]:
    """The base URL of `mynth serve` run with `env`; it must stop cleanly, without a traceback."""
    with serving(env, server_log) as mynth:
        yield mynth.base
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells.
    assert mynth.process.returncode == -signal.SIGTERM
    assert "Traceback" not in mynth.log_text()
