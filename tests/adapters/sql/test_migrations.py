"""Alembic migrations: an empty database upgrades to exactly the schema of tables.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import mynth_adapters
from mynth_adapters.sql import is_at_head, migrate
from mynth_adapters.sql.migrate import alembic_config
from mynth_adapters.sql.tables import metadata
from sqlkit import fresh_postgres_schema, postgres_engine_in, postgres_url, sqlite_engine_at

TABLES = {
    "alembic_version",
    "users",
    "personas",
    "persona_versions",
    "persona_events",
    "ledger_entries",
    "token_accounts",
    "checkout_sessions",
    "webhook_deliveries",
    "chats",
    "chat_messages",
    "chat_summaries",
    "version_roleplay_summaries",
    "image_jobs",
    "images",
    "jobs",
    "tags",
    "persona_tags",
}


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def differences(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        return await conn.run_sync(_differences)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def assert_upgrades_to_the_tables(engine: AsyncEngine) -> None:
    assert not await is_at_head(engine)
    await migrate(engine)
    assert await is_at_head(engine)
    assert await table_names(engine) == TABLES
    assert await differences(engine) == []


async def test_an_empty_sqlite_file_upgrades_to_exactly_the_declared_tables(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as engine:
        await assert_upgrades_to_the_tables(engine)


@pytest.mark.postgres
async def test_an_empty_postgres_schema_upgrades_to_exactly_the_declared_tables() -> None:
    url = postgres_url()
    async with fresh_postgres_schema(url) as schema, postgres_engine_in(url, schema) as engine:
        await assert_upgrades_to_the_tables(engine)


async def test_the_comparison_notices_a_database_that_lacks_the_tables(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as engine:
        assert len(await differences(engine)) >= 4


async def test_migrating_an_up_to_date_database_changes_nothing(sqlite_engine) -> None:
    await migrate(sqlite_engine)

    assert await is_at_head(sqlite_engine)
    assert await differences(sqlite_engine) == []


async def test_instances_migrating_one_sqlite_file_together_both_succeed(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as one, sqlite_engine_at(tmp_path) as two:
        await asyncio.gather(migrate(one), migrate(two))

        assert await is_at_head(one)


@pytest.mark.postgres
async def test_instances_migrating_one_postgres_schema_together_both_succeed() -> None:
    url = postgres_url()
    async with (
        fresh_postgres_schema(url) as schema,
        postgres_engine_in(url, schema) as one,
        postgres_engine_in(url, schema) as two,
    ):
        await asyncio.gather(migrate(one), migrate(two))

        assert await is_at_head(one)
        assert await differences(one) == []


def test_the_migrations_ship_inside_the_package_and_need_no_ini_file() -> None:
    config = alembic_config()
    script = ScriptDirectory.from_config(config)

    assert config.config_file_name is None
    assert Path(script.dir).is_relative_to(Path(mynth_adapters.__file__).parent)
    assert script.get_heads() == ["0008"]
