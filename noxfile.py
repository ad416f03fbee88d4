"""Mynth's developer tasks. `nox` runs lint, typecheck, core_isolated and tests."""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "core_isolated", "tests"]
nox.options.reuse_venv = "yes"

PACKAGES = ["packages/mynth_core/src", "packages/mynth_adapters/src", "packages/mynth_http/src"]
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
OUTER_LIBRARIES = (
    "sqlalchemy", "httpx", "litestar", "punq", "cattrs", "jinja2", "tenacity",
    "alembic", "aiosqlite", "asyncpg", "jwt", "msgspec", "redis", "PIL",
)  # fmt: skip
ASSERT_ABSENT = (
    "import importlib.util, sys; "
    f"present = [m for m in {OUTER_LIBRARIES!r} if importlib.util.find_spec(m)]; "
    "sys.exit(f'core_isolated must not see: {present}' if present else 0)"
)


def uv_sync(session: nox.Session, *args: str) -> None:
    """Install the locked dependencies into this session's environment."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install(
        "uv", "sync", "--locked", "--no-default-groups", "--compile-bytecode", *args, env=env
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and format) and the import-linter layer contracts."""
    uv_sync(session, "--all-packages", "--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the three packages with mypy --strict."""
    uv_sync(session, "--all-packages", "--group", "typecheck", "--group", "test")
    session.run("mypy", *PACKAGES)


@nox.session
def core_isolated(session: nox.Session) -> None:
    """Run the core's unit tests with only attrs and the test group installed."""
    uv_sync(session, "--package", "mynth-core", "--group", "test")
    session.run("python", "-c", ASSERT_ABSENT)
    session.run("pytest", "tests/unit/core", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test that needs no external server (SQLite, fakes, real `mynth serve`)."""
    uv_sync(session, "--all-packages", "--group", "test", "--group", "reference")
    session.run("pytest", "-m", "not postgres and not redis and not bench", *session.posargs)


@nox.session
def tests_postgres(session: nox.Session) -> None:
    """The contract and HTTP tests against Postgres (MYNTH_TEST_DATABASE_URL or local)."""
    uv_sync(session, "--all-packages", "--group", "test", "--group", "reference")
    url = os.environ.get("MYNTH_TEST_DATABASE_URL", POSTGRES_URL)
    session.run("pytest", "-m", "postgres", *session.posargs, env={"MYNTH_TEST_DATABASE_URL": url})


@nox.session
def tests_redis(session: nox.Session) -> None:
    """The rate-limiter contract tests against Redis (MYNTH_TEST_REDIS_URL or local)."""
    uv_sync(session, "--all-packages", "--group", "test", "--group", "reference")
    url = os.environ.get("MYNTH_TEST_REDIS_URL", REDIS_URL)
    session.run("pytest", "-m", "redis", *session.posargs, env={"MYNTH_TEST_REDIS_URL": url})


@nox.session
def bench(session: nox.Session) -> None:
    """Latency benchmarks against a baseline measured in the same run (docs/performance.md)."""
    uv_sync(session, "--all-packages", "--group", "test")
    session.run("python", "-m", "tests.bench", *session.posargs)
