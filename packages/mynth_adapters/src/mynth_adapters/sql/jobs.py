"""The durable job queue in the `jobs` table (ARCHITECTURE.md §8).

`SqlJobQueue` works on one connection inside the caller's transaction: the unit of work
enqueues through it (so a job exists exactly when the request's transaction commits), and
the worker's `SqlJobStore` runs each claim and each settlement in a short transaction of
its own.

A claim is one conditional `UPDATE ... RETURNING` of the oldest due row: a `queued` row
whose `run_after` has come, or a `running` row whose lease (`locked_until`) has expired
(its worker died). On Postgres the row is picked with `FOR UPDATE SKIP LOCKED`, so
concurrent claimers take different rows without waiting on each other; on SQLite the
claim's `BEGIN IMMEDIATE` serialises claimers. Settling (`complete`, `retry`, `fail`) is
conditional on the claim (`locked_by` and the attempt), so a worker whose lease expired
cannot overwrite the result of the worker that reclaimed the job.

On Postgres an enqueue also sends a `NOTIFY` (delivered at commit) that the workers of every
process `LISTEN` for, so a job starts within milliseconds wherever it was enqueued; on
SQLite a worker of another process finds it at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs
from sqlalchemy import (
    ColumnElement,
    RowMapping,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mynth_adapters.sql.engine import transaction
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.tables import jobs
from mynth_core.clock import Clock, SystemClock
from mynth_core.ids import JobId
from mynth_core.images.ports import JobClaim, QueuedJob

if TYPE_CHECKING:
    from mynth_core.images.ports import JobQueue

_log = logging.getLogger("mynth.jobs")
_Q = jobs.c
CHANNEL: Final = "mynth_jobs"  # Postgres NOTIFY channel: a job was enqueued
RELISTEN_DELAY: Final = 5.0  # seconds before listening again after the connection broke
QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
FAILED: Final = "failed"
ERROR_LIMIT: Final = 2000  # characters of `last_error` kept


@attrs.frozen(kw_only=True)
class ClaimedJob:
    """A job a worker holds until `locked_until`; `attempts` counts this claim."""

    id: JobId
    kind: str
    ref: str
    attempts: int
    locked_until: datetime

    def claim_of(self, worker_id: str) -> JobClaim:
        """What settling this claim by `worker_id` names."""
        return JobClaim(job_id=self.id, worker_id=worker_id, attempt=self.attempts)


@attrs.frozen(kw_only=True)
class JobRecord:
    """A `jobs` row as stored (for operators and tests)."""

    id: JobId
    kind: str
    ref: str
    status: str
    attempts: int
    run_after: datetime | None
    locked_until: datetime | None
    locked_by: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@attrs.define
class JobSignal:
    """In-process listeners told when a unit of work that enqueued a job has committed.

    The embedded worker subscribes its `notify`, so a job a request just enqueued starts
    at once instead of at the next poll. Listeners run on the event loop, synchronously.
    """

    _listeners: list[Callable[[], None]] = attrs.field(factory=list)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Add `listener`; returns the function that removes it again."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def fire(self) -> None:
        for listener in tuple(self._listeners):
            listener()


@attrs.define
class SqlJobQueue:
    """The `jobs` table on one connection, inside whatever transaction the caller holds."""

    conn: AsyncConnection
    clock: Clock = attrs.field(factory=SystemClock)
    signal: JobSignal | None = None
    enqueued: int = 0
    """Jobs enqueued in the current transaction, so the unit of work can signal its commit."""

    async def enqueue(self, job: QueuedJob) -> None:
        now = self.clock.now()
        values = {
            "id": job.id,
            "kind": job.kind,
            "ref": job.ref,
            "status": QUEUED,
            "attempts": 0,
            "run_after": job.run_after,
            "created_at": now,
            "updated_at": now,
        }
        with translate_db_errors():
            await self.conn.execute(insert(jobs).values(values))
            if not self.enqueued and self.conn.dialect.name == "postgresql":
                # Sent when (and only if) the transaction commits.
                await self.conn.execute(select(func.pg_notify(CHANNEL, "")))
        self.enqueued += 1

    def committed(self) -> None:
        """The transaction committed: wake in-process workers if it enqueued anything."""
        if self.enqueued and self.signal is not None:
            self.signal.fire()
        self.enqueued = 0

    async def claim(self, worker_id: str, *, now: datetime, lease: timedelta) -> ClaimedJob | None:
        """Take the oldest due job for `lease` (see the module docstring), or None."""
        pick = (
            select(_Q.id)
            .where(_due(now))
            .order_by(_Q.created_at, _Q.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # not rendered on SQLite
            .scalar_subquery()
        )
        stmt = (
            update(jobs)
            .where(_Q.id == pick)
            .values(
                status=RUNNING,
                attempts=_Q.attempts + 1,
                locked_until=now + lease,
                locked_by=worker_id,
                updated_at=now,
            )
            .returning(_Q.id, _Q.kind, _Q.ref, _Q.attempts, _Q.locked_until)
        )
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            return None
        return ClaimedJob(
            id=JobId(row["id"]),
            kind=row["kind"],
            ref=row["ref"],
            attempts=row["attempts"],
            locked_until=row["locked_until"],
        )

    async def any_due(self, *, now: datetime) -> bool:
        """Whether a claim at `now` would find a job (a read, for idle polling)."""
        stmt = select(literal(1)).where(_due(now)).limit(1)
        with translate_db_errors():
            return (await self.conn.execute(stmt)).first() is not None

    async def complete(self, claim: JobClaim) -> bool:
        """`running → done`; False when the job is no longer this claim's (lease lost)."""
        return await self._settle(claim, {"status": DONE})

    async def retry(self, claim: JobClaim, *, run_after: datetime, error: str) -> bool:
        """`running → queued`, due again at `run_after`; False when the lease was lost."""
        changes = {"status": QUEUED, "run_after": run_after, "locked_by": None}
        return await self._settle(claim, changes, error=error)

    async def fail(self, claim: JobClaim, error: str) -> bool:
        """`running → failed` for good; False when the lease was lost."""
        return await self._settle(claim, {"status": FAILED}, error=error)

    async def find(self, job_id: JobId) -> JobRecord | None:
        with translate_db_errors():
            row = (
                (await self.conn.execute(select(jobs).where(_Q.id == job_id)))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _record(row)

    async def _settle(
        self, claim: JobClaim, changes: Mapping[str, Any], *, error: str | None = None
    ) -> bool:
        """Apply `changes` (and release the lease) if the job is still this claim's."""
        mine = [
            _Q.id == claim.job_id,
            _Q.status == RUNNING,
            _Q.locked_by == claim.worker_id,
            _Q.attempts == claim.attempt,
        ]
        values = {**changes, "locked_until": None, "updated_at": self.clock.now()}
        if error is not None:
            values["last_error"] = error[:ERROR_LIMIT]
        with translate_db_errors():
            result = await self.conn.execute(update(jobs).where(*mine).values(values))
        return bool(result.rowcount == 1)


def _due(now: datetime) -> ColumnElement[bool]:
    """Claimable at `now`: queued and due, or running with an expired lease."""
    return or_(
        and_(_Q.status == QUEUED, or_(_Q.run_after.is_(None), _Q.run_after <= now)),
        and_(_Q.status == RUNNING, _Q.locked_until < now),
    )


def _record(row: RowMapping) -> JobRecord:
    return JobRecord(
        id=JobId(row["id"]),
        kind=row["kind"],
        ref=row["ref"],
        status=row["status"],
        attempts=row["attempts"],
        run_after=row["run_after"],
        locked_until=row["locked_until"],
        locked_by=row["locked_by"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@attrs.frozen
class SqlJobStore:
    """The worker's side of the queue over `engine`: every call is one short transaction.

    On SQLite an idle claim first reads whether anything is due, so a polling worker does
    not take the database's write lock while there is nothing to do.
    """

    engine: AsyncEngine
    clock: Clock = attrs.field(factory=SystemClock)
    signal: JobSignal = attrs.field(factory=JobSignal)
    relisten_delay: float = RELISTEN_DELAY

    @asynccontextmanager
    async def wakeups(self, listener: Callable[[], None]) -> AsyncIterator[None]:
        """Within the block, call `listener` (on the event loop) whenever a job was enqueued.

        A unit of work of this process calls it as it commits; on Postgres so does any
        process's enqueue, through LISTEN/NOTIFY.

        The Postgres listener holds one connection of its own, which it closes at the end
        rather than return it to the pool; if that connection breaks, it listens again
        after `relisten_delay` seconds (polling covers the gap).
        """
        unsubscribe = self.signal.subscribe(listener)
        listening = None
        if self.engine.dialect.name == "postgresql":
            listening = asyncio.create_task(self._listen(listener), name="job notifications")
        try:
            yield
        finally:
            unsubscribe()
            if listening is not None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)

    async def _listen(self, listener: Callable[[], None]) -> None:
        def notified(*_: object) -> None:
            listener()

        lost = asyncio.Event()  # the listening connection closed
        while True:
            lost.clear()
            try:
                async with self.engine.connect() as connection:
                    try:
                        raw: Any = (await connection.get_raw_connection()).driver_connection
                        raw.add_termination_listener(lambda _connection: lost.set())
                        await raw.add_listener(CHANNEL, notified)
                        listener()  # a job may have been enqueued while nobody listened
                        await lost.wait()
                    finally:
                        await connection.invalidate()
                _log.warning("the connection listening for enqueued jobs closed")
            except Exception:  # noqa: BLE001 - polling goes on; listen again shortly
                _log.warning("listening for enqueued jobs failed", exc_info=True)
            await asyncio.sleep(self.relisten_delay)

    async def claim(self, worker_id: str, *, now: datetime, lease: timedelta) -> ClaimedJob | None:
        if self.engine.dialect.name == "sqlite":
            async with self._queue(read_only=True) as queue:
                if not await queue.any_due(now=now):
                    return None
        async with self._queue() as queue:
            return await queue.claim(worker_id, now=now, lease=lease)

    async def complete(self, claim: JobClaim) -> bool:
        async with self._queue() as queue:
            return await queue.complete(claim)

    async def retry(self, claim: JobClaim, *, run_after: datetime, error: str) -> bool:
        async with self._queue() as queue:
            return await queue.retry(claim, run_after=run_after, error=error)

    async def fail(self, claim: JobClaim, error: str) -> bool:
        async with self._queue() as queue:
            return await queue.fail(claim, error)

    async def find(self, job_id: JobId) -> JobRecord | None:
        async with self._queue(read_only=True) as queue:
            return await queue.find(job_id)

    @asynccontextmanager
    async def _queue(self, *, read_only: bool = False) -> AsyncIterator[SqlJobQueue]:
        """A queue in its own transaction, committed when the block succeeds."""
        async with transaction(self.engine, read_only=read_only) as connection:
            yield SqlJobQueue(connection, self.clock)
            if not read_only:
                with translate_db_errors():
                    await connection.commit()


if TYPE_CHECKING:
    _conforms: type[JobQueue] = SqlJobQueue
