"""The engine: SQLite in WAL with a busy timeout and write-locking BEGIN; pooled Postgres."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from mynth_adapters.settings import DatabaseSettings
from mynth_adapters.sql import sql_engine
from mynth_adapters.sql.engine import SQLITE_BUSY_TIMEOUT_MS
from sqlkit import postgres_url, sqlite_engine_at


async def test_sqlite_creates_its_directory_and_runs_in_wal_with_a_busy_timeout(tmp_path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    async with sqlite_engine_at(data_dir) as engine, engine.connect() as conn:
        journal = await conn.scalar(text("PRAGMA journal_mode"))
        busy = await conn.scalar(text("PRAGMA busy_timeout"))
        foreign_keys = await conn.scalar(text("PRAGMA foreign_keys"))

    assert (data_dir / "mynth.db").is_file()
    assert (journal, busy, foreign_keys) == ("wal", SQLITE_BUSY_TIMEOUT_MS, 1)


async def test_a_sqlite_transaction_takes_the_write_lock_when_it_begins(tmp_path) -> None:
    async with (
        sqlite_engine_at(tmp_path) as engine,
        engine.connect() as first,
        engine.connect() as second,
    ):
        await first.begin()

        async def begin_second() -> None:
            await second.begin()

        waiting = asyncio.create_task(begin_second())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # queued on the busy timeout rather than failing

        await first.rollback()
        await waiting
        await second.rollback()


async def test_sqlite_folds_the_case_of_any_letter(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as engine, engine.connect() as conn:
        assert await conn.scalar(text("SELECT lower('ÉLODIE Ångström')")) == "élodie ångström"


@pytest.mark.postgres
async def test_postgres_connections_come_from_a_pool() -> None:
    async with sql_engine(DatabaseSettings(url=postgres_url())) as engine:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        pool = engine.pool

    assert isinstance(pool, QueuePool)
    assert pool.size() == 10
