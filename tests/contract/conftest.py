"""Backends for the contract suites: the fake, SQLite and Postgres (marked), per test.

Every suite writes its tests against the ports and asks for `uow_factory`, which runs each
test once per backend. The engine fixtures come from `tests/sqlkit.py` for reuse elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

# `sqlkit` lives in tests/, which the root conftest's import puts on sys.path; doing it here
# as well lets this directory run on its own.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from mynth_adapters.sql import SqlUnitOfWorkFactory  # noqa: E402
from mynth_core.testing import FakeUnitOfWorkFactory  # noqa: E402
from mynth_core.uow import UnitOfWorkFactory  # noqa: E402
from sqlkit import postgres_engine, postgres_schema, sqlite_engine  # noqa: E402

__all__ = ["postgres_engine", "postgres_schema", "sqlite_engine"]

BACKENDS = [
    pytest.param("fake_uow_factory", id="fake"),
    pytest.param("sqlite_uow_factory", id="sqlite"),
    pytest.param("postgres_uow_factory", id="postgres", marks=pytest.mark.postgres),
]
SQL_BACKENDS = BACKENDS[1:]


@pytest.fixture
def fake_uow_factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def sqlite_uow_factory(sqlite_engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(sqlite_engine)


@pytest.fixture
def postgres_uow_factory(postgres_engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(postgres_engine)


@pytest.fixture(params=BACKENDS)
def uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """A unit-of-work factory over an empty store, once per backend."""
    factory: UnitOfWorkFactory = request.getfixturevalue(request.param)
    return factory


@pytest.fixture(params=SQL_BACKENDS)
def sql_uow_factory(request: pytest.FixtureRequest) -> SqlUnitOfWorkFactory:
    """Only the SQL backends, for behaviour the fake cannot show (locks, pools)."""
    factory: SqlUnitOfWorkFactory = request.getfixturevalue(request.param)
    return factory
