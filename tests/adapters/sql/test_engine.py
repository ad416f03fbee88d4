"""The engine: SQLite in WAL with a busy timeout and write-locking BEGIN; pooled Postgres."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from mynth_adapters.settings import DatabaseSettings
from mynth_adapters.sql import sql_engine
from mynth_adapters.sql.engine import SQLITE_BUSY_TIMEOUT_MS, background_first, transaction
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


class Writers:
    """Write transactions that queue behind a held one and note the order they got in."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.order: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, *, background: bool = False) -> asyncio.Task[None]:
        async def write() -> None:
            async with transaction(self.engine) as connection:
                self.order.append(name)
                await connection.execute(text("SELECT 1"))

        async def run() -> None:
            if background:
                with background_first():
                    await write()
            else:
                await write()

        task = asyncio.create_task(run())
        self.tasks.append(task)
        return task

    async def settle(self) -> None:
        await asyncio.sleep(0.05)  # every writer has asked for its turn

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_sqlite_writers_of_one_process_get_in_in_the_order_they_asked(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as engine:
        writers = Writers(engine)
        async with transaction(engine):
            for name in ("first", "second", "third", "fourth"):
                writers.start(name)
                await asyncio.sleep(0.01)
            await writers.settle()
            assert writers.order == []  # all wait for the open write transaction
        await writers.finish()

    assert writers.order == ["first", "second", "third", "fourth"]


async def test_background_writers_get_in_before_waiting_requests(tmp_path) -> None:
    async with sqlite_engine_at(tmp_path) as engine:
        writers = Writers(engine)
        async with transaction(engine):
            writers.start("request 1")
            await writers.settle()
            writers.start("job 1", background=True)
            writers.start("request 2")
            writers.start("job 2", background=True)
            await writers.settle()
        await writers.finish()

    assert writers.order == ["job 1", "job 2", "request 1", "request 2"]


async def test_a_writer_that_gives_up_waiting_passes_nothing_on_and_blocks_no_one(
    tmp_path,
) -> None:
    async with sqlite_engine_at(tmp_path) as engine:
        writers = Writers(engine)
        async with transaction(engine):
            impatient = writers.start("impatient")
            writers.start("patient")
            await writers.settle()
            impatient.cancel()
            await writers.settle()
        await writers.finish()
        async with asyncio.timeout(1), transaction(engine, read_only=False):
            pass  # the turn is free again

    assert writers.order == ["patient"]


async def test_readers_do_not_wait_for_a_writer_s_turn(tmp_path) -> None:
    async with (
        sqlite_engine_at(tmp_path) as engine,
        transaction(engine),
        asyncio.timeout(1),
        transaction(engine, read_only=True) as reader,
    ):
        assert await reader.scalar(text("SELECT 1")) == 1


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
