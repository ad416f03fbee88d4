"""The `mynth` command's small subcommands, as processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MYNTH = str(Path(sys.executable).parent / "mynth")


def mynth(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [MYNTH, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MYNTH_")}
    return {**clean, "MYNTH_DATA_DIR": str(tmp_path / "data")}


def test_migrate_creates_and_migrates_the_embedded_database(env, tmp_path) -> None:
    done = mynth("migrate", env=env)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "data" / "mynth.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"alembic_version", "personas", "persona_versions", "persona_events", "users"} <= tables
    assert mynth("migrate", env=env).returncode == 0  # a second run is a no-op


def test_dev_token_refuses_when_clerk_is_configured(env) -> None:
    env |= {"MYNTH_CLERK_JWT_KEY": "pem", "MYNTH_CLERK_ISSUER": "https://clerk.example.com"}
    done = mynth("dev-token", "--user", "alice", env=env)
    assert done.returncode == 1
    assert "Clerk is configured" in done.stderr
    assert done.stdout == ""


def test_bad_configuration_stops_every_command_with_all_problems_listed(env) -> None:
    env |= {"MYNTH_MAX_BODY_BYTES": "lots", "MYNTH_PROFILE": "production"}
    done = mynth("serve", env=env)
    assert done.returncode == 2
    assert "MYNTH_MAX_BODY_BYTES" in done.stderr
    assert "MYNTH_PROFILE=production" in done.stderr


def test_a_dev_token_is_a_three_part_jwt_for_the_given_user(env) -> None:
    done = mynth("dev-token", "--user", "alice", "--ttl", "60", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2
    assert (
        Path(env["MYNTH_DATA_DIR"]) / "dev-keys" / "local-issuer.pem"
    ).stat().st_mode & 0o777 == 0o600
