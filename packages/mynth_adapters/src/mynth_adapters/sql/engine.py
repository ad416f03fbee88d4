"""The async engine: SQLite (WAL, busy timeout, `BEGIN IMMEDIATE`) or pooled Postgres."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from mynth_adapters.settings import DatabaseSettings

SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
WAL_SWITCH_ATTEMPTS: Final = 50
READ_ONLY: Final = "mynth_read_only"  # execution option of a read-only unit of work
POSTGRES_POOL: Final = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_timeout": 10,  # seconds to wait for a free connection before giving up
    "pool_recycle": 1_800,
    "pool_pre_ping": True,
}


@asynccontextmanager
async def sql_engine(settings: DatabaseSettings) -> AsyncIterator[AsyncEngine]:
    """An engine for `settings.url`, disposed of when the context exits."""
    url = make_url(settings.url)
    engine = _sqlite_engine(url) if settings.is_sqlite else _postgres_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _postgres_engine(url: URL) -> AsyncEngine:
    return create_async_engine(url, **POSTGRES_POOL)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:  # noqa: ANN401 - the driver's connection is untyped
    # Take BEGIN away from the driver (its deferred BEGIN fails to upgrade to a write lock
    # under contention); `_begin_immediate` emits our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
    finally:
        cursor.close()
    # SQLite's own lower() folds ASCII only; searches fold the case of any letter.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _use_wal(cursor: Any) -> None:  # noqa: ANN401 - the driver's cursor is untyped
    # WAL is persistent, so only the first connection to a new file switches. That switch
    # needs the file to itself and fails at once, without the busy handler, while another
    # process is switching too: then the other one wins and the mode is WAL anyway.
    for _ in range(WAL_SWITCH_ATTEMPTS):
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
    msg = "could not switch the SQLite database to WAL mode"
    raise sqlite3.OperationalError(msg)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _begin_immediate(connection: Connection) -> None:
    # Take the write lock up front, so concurrent writers queue on the busy timeout
    # instead of failing with "database is locked" when a read turns into a write.
    # A read-only unit of work takes no lock at all: each of its statements reads the
    # latest committed state in autocommit, so readers never queue behind writers.
    if not connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
