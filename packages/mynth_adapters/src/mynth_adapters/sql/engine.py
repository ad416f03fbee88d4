"""The async engine: SQLite (WAL, busy timeout, `BEGIN IMMEDIATE`) or pooled Postgres.

`transaction(engine)` opens every unit of work's connection and transaction. On SQLite the
write transactions of one process take turns in the order they asked (`WriteTurns`; the
job worker's first) before they `BEGIN IMMEDIATE`: SQLite's own busy handler makes a
waiting writer sleep and poll (1, 2, 5, 10 ... 100 ms), so under a burst of writes a
waiter can sleep long after the lock came free, or lose it again and again to newcomers.
Writers of other processes on the same file still queue on the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from mynth_adapters.settings import DatabaseSettings
from mynth_adapters.sql.errors import translate_db_errors

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


class WriteTurns:
    """Turns for one SQLite engine's write transactions, first come, first served.

    Background work (`background_first()`: the job worker) goes before requests: finishing
    work already under way keeps a burst of requests from stalling the jobs in flight, and
    cannot starve requests, since the worker runs a bounded number of jobs. One queue per
    event loop (an engine may be used from several loops, e.g. in tests). A task that
    already holds a turn (a write unit of work opened inside another) does not wait for a
    second one, and a turn not granted within the busy timeout is skipped: in both cases
    SQLite's own locking decides, as it would without turns.
    """

    def __init__(self) -> None:
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TurnQueue] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        me = asyncio.current_task()
        if me is not None and _HOLDER.get() is me:
            yield
            return
        queue = self._queues.setdefault(asyncio.get_running_loop(), _TurnQueue())
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await queue.acquire(first=_BACKGROUND.get())
        except TimeoutError:
            yield  # let SQLite's busy timeout decide
            return
        token = _HOLDER.set(me)
        try:
            yield
        finally:
            _HOLDER.reset(token)
            queue.release()


class _TurnQueue:
    """A lock whose waiters are served in order, those asking `first` before the others."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),
            deque(),
        )

    async def acquire(self, *, first: bool) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        granted = asyncio.get_running_loop().create_future()
        self._waiting[0 if first else 1].append(granted)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                self.release()  # granted just as the waiter gave up: pass it on
            else:
                with suppress(ValueError):  # `release` may have dropped it already
                    self._waiting[0 if first else 1].remove(granted)
            raise

    def release(self) -> None:
        for waiting in self._waiting:
            while waiting:
                granted = waiting.popleft()
                if not granted.done():
                    granted.set_result(None)  # the turn passes on: still held
                    return
        self._held = False


# The task holding a turn (tasks it starts inherit the variable, but are other tasks).
_HOLDER: contextvars.ContextVar[asyncio.Task[Any] | None] = contextvars.ContextVar(
    "sqlite_turn_holder", default=None
)
_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_background_first", default=False
)


@contextmanager
def background_first() -> Iterator[None]:
    """Within the block, SQLite write transactions go before those of requests.

    The tasks started within the block inherit this (see `WriteTurns`).
    """
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


_WRITE_TURNS: weakref.WeakKeyDictionary[Engine, WriteTurns] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, read_only: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A pooled connection of `engine` inside a transaction, closed when the block exits.

    Closing rolls back whatever was not committed. On SQLite a write transaction first
    waits for its turn; a read-only one takes no lock at all (see `_begin_immediate`).
    """
    turns = None if read_only else _WRITE_TURNS.get(engine.sync_engine)
    async with nullcontext() if turns is None else turns.turn():
        with translate_db_errors():
            connection = await engine.connect()
        try:
            with translate_db_errors():
                if read_only:
                    await connection.execution_options(**{READ_ONLY: True})
                await connection.begin()
            yield connection
        finally:
            with translate_db_errors():
                await connection.close()


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
    _WRITE_TURNS[engine.sync_engine] = WriteTurns()
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
