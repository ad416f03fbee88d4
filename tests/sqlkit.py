"""Database fixtures for every suite that needs a migrated SQLite or Postgres engine.

Import the fixtures into a `conftest.py` (`from sqlkit import sqlite_engine, ...`). Postgres
comes from `MYNTH_TEST_DATABASE_URL`: unset skips the test, except under `CI=true`, where a
missing or unreachable Postgres fails it. Each pytest session migrates its own schema once;
every test then starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.settings import DatabaseSettings, sqlite_url
from mynth_adapters.sql import migrate, sql_engine
from mynth_adapters.sql.tables import metadata

POSTGRES_URL_ENV = "MYNTH_TEST_DATABASE_URL"
T = TypeVar("T")


@attrs.frozen
class PostgresSchema:
    """A schema of the test database that belongs to one pytest session."""

    url: str
    name: str


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def postgres_url() -> str:
    """The test database URL; skips the test when it is unset (fails it under CI)."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not url:
        reason = f"{POSTGRES_URL_ENV} is not set"
        if in_ci():
            pytest.fail(f"{reason}, and CI needs the Postgres tests to run")
        pytest.skip(reason)
    return url


@asynccontextmanager
async def sqlite_engine_at(data_dir: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on the embedded database file in `data_dir`, not yet migrated."""
    async with sql_engine(DatabaseSettings(url=sqlite_url(data_dir))) as engine:
        yield engine


@asynccontextmanager
async def postgres_engine_in(url: str, schema: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose connections all work inside `schema` (through `search_path`)."""
    async with sql_engine(DatabaseSettings(url=url)) as engine:

        def use_schema(dbapi_connection: Any, _record: object) -> None:
            # In autocommit, so the setting outlives the connection's first transaction: a SET
            # inside it is undone when that transaction rolls back (a read-only unit of work),
            # and the pooled connection would then quietly use `public` instead.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute(f'SET search_path TO "{schema}"')
                cursor.close()
            finally:
                dbapi_connection.autocommit = autocommit

        event.listen(engine.sync_engine, "connect", use_schema)
        yield engine


@asynccontextmanager
async def fresh_postgres_schema(url: str) -> AsyncIterator[str]:
    """An empty, uniquely named schema, dropped with everything in it afterwards."""
    schema = await _create_schema(url)
    try:
        yield schema
    finally:
        await _drop_schema(url, schema)


async def _create_schema(url: str) -> str:
    schema = f"mynth_test_{secrets.token_hex(6)}"
    async with sql_engine(DatabaseSettings(url=url)) as engine:
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # noqa: BLE001 - any failure to reach Postgres reads the same
            pytest.fail(f"Postgres at {POSTGRES_URL_ENV} is unusable: {exc!r}")
    return schema


async def _drop_schema(url: str, schema: str) -> None:
    async with sql_engine(DatabaseSettings(url=url)) as engine, engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


async def _create_migrated_schema(url: str) -> str:
    schema = await _create_schema(url)
    try:
        async with postgres_engine_in(url, schema) as engine:
            await migrate(engine)
    except BaseException:
        await _drop_schema(url, schema)
        raise
    return schema


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # A private loop, so session-scoped setup never touches the loops pytest-asyncio owns.
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table of the metadata (sequences restart), keeping the schema."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    """This session's migrated schema in the test database, dropped at the end."""
    url = postgres_url()
    schema = _run(_create_migrated_schema(url))
    try:
        yield PostgresSchema(url=url, name=schema)
    finally:
        _run(_drop_schema(url, schema))


@pytest.fixture
async def postgres_engine(postgres_schema: PostgresSchema) -> AsyncIterator[AsyncEngine]:
    """A migrated Postgres engine whose tables are empty when the test starts."""
    async with postgres_engine_in(postgres_schema.url, postgres_schema.name) as engine:
        await truncate_all(engine)
        yield engine


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated SQLite engine on a fresh file of its own."""
    async with sqlite_engine_at(tmp_path) as engine:
        await migrate(engine)
        yield engine
