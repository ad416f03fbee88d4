"""The SQL job queue: transactional enqueue, leased claims, guarded settling (SQLite, Postgres).

The fake `JobQueue` only records; what needs a database (visibility at commit, row locks,
lease expiry, concurrent claimers) is checked here on both dialects.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.sql import SqlUnitOfWorkFactory
from mynth_adapters.sql.jobs import CHANNEL, ClaimedJob, SqlJobQueue, SqlJobStore
from mynth_core.ids import JobId
from mynth_core.images.ports import JobClaim, QueuedJob
from mynth_core.testing import FrozenClock

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
LEASE = timedelta(minutes=10)
A, B = "worker-a", "worker-b"


@pytest.fixture(
    params=[
        pytest.param("sqlite_engine", id="sqlite"),
        pytest.param("postgres_engine", id="postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    chosen: AsyncEngine = request.getfixturevalue(request.param)
    return chosen


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def uow_factory(engine, clock) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, clock=clock)


@pytest.fixture
def store(uow_factory) -> SqlJobStore:
    return uow_factory.job_store()


def a_job(number: int, *, run_after: datetime | None = None) -> QueuedJob:
    return QueuedJob(
        id=JobId(f"job_{number:04d}"), kind="image", ref=f"igj_{number:04d}", run_after=run_after
    )


async def enqueue(uow_factory: SqlUnitOfWorkFactory, clock: FrozenClock, *jobs: QueuedJob) -> None:
    """Each job in its own committed unit of work, one millisecond apart."""
    for job in jobs:
        async with uow_factory() as uow:
            await uow.jobs.enqueue(job)
            await uow.commit()
        clock.advance(0.001)


async def claim(store: SqlJobStore, worker: str = A, *, at: datetime = T0) -> ClaimedJob | None:
    return await store.claim(worker, now=at, lease=LEASE)


async def test_an_enqueued_job_is_claimable_only_once_its_transaction_commits(
    uow_factory, store
) -> None:
    async with uow_factory() as uow:
        await uow.jobs.enqueue(a_job(1))
        assert await claim(store) is None  # another connection cannot see it yet
        await uow.commit()

    claimed = await claim(store)

    assert claimed == ClaimedJob(
        id=JobId("job_0001"), kind="image", ref="igj_0001", attempts=1, locked_until=T0 + LEASE
    )


async def test_a_rolled_back_enqueue_leaves_no_job(uow_factory, store) -> None:
    async def failing_request() -> None:
        async with uow_factory() as uow:
            await uow.jobs.enqueue(a_job(1))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    async with uow_factory() as uow:
        await uow.jobs.enqueue(a_job(2))  # left without commit

    assert await claim(store) is None
    assert await store.find(JobId("job_0001")) is None
    assert await store.find(JobId("job_0002")) is None


class Wakes:
    """A listener that counts its calls; `reached(n)` waits until there were `n`."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._changed.set()

    async def reached(self, count: int, *, within: float = 2.0) -> None:
        async with asyncio.timeout(within):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


async def test_only_a_commit_that_enqueued_wakes_the_listeners(
    engine, uow_factory, store, clock
) -> None:
    wakes = Wakes()
    # On Postgres the listener also wakes once it listens (jobs may be waiting), and each
    # enqueue of this process wakes it twice: at its commit and by its NOTIFY.
    postgres = engine.dialect.name == "postgresql"
    async with store.wakeups(wakes):
        await wakes.reached(1 if postgres else 0)
        async with uow_factory() as uow:
            await uow.jobs.enqueue(a_job(1))
        async with uow_factory() as uow:
            await uow.commit()
        await asyncio.sleep(0.1)  # what a notification would take
        assert wakes.count == (1 if postgres else 0)  # rolled back, then nothing enqueued

        await enqueue(uow_factory, clock, a_job(2))
        await wakes.reached(3 if postgres else 1)

    await enqueue(uow_factory, clock, a_job(3))
    await asyncio.sleep(0.1)
    assert wakes.count == (3 if postgres else 1)


@pytest.mark.postgres
async def test_on_postgres_an_enqueue_in_another_process_wakes_the_listeners(
    postgres_engine, clock
) -> None:
    listening = SqlUnitOfWorkFactory(postgres_engine, clock=clock).job_store()
    elsewhere = SqlUnitOfWorkFactory(postgres_engine, clock=clock)  # shares no signal
    wakes = Wakes()

    async with listening.wakeups(wakes):
        await wakes.reached(1)  # listening now
        await enqueue(elsewhere, clock, a_job(1))
        await wakes.reached(2)


@pytest.mark.postgres
async def test_on_postgres_a_listener_whose_connection_dies_listens_again(
    postgres_engine, clock, caplog
) -> None:
    listening = attrs.evolve(
        SqlUnitOfWorkFactory(postgres_engine, clock=clock).job_store(), relisten_delay=0.1
    )
    elsewhere = SqlUnitOfWorkFactory(postgres_engine, clock=clock)
    wakes = Wakes()
    kill = text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE query = :listen AND pid <> pg_backend_pid()"
    )

    async with listening.wakeups(wakes):
        await wakes.reached(1)
        async with postgres_engine.connect() as admin:
            killed = (await admin.execute(kill, {"listen": f'LISTEN "{CHANNEL}"'})).scalars()
            assert list(killed) == [True]
        await wakes.reached(2)  # listening again: jobs may have come meanwhile
        await enqueue(elsewhere, clock, a_job(1))
        await wakes.reached(3)

    assert "the connection listening for enqueued jobs closed" in caplog.text


async def test_claims_take_the_oldest_due_job_first_and_skip_future_ones(
    uow_factory, store, clock
) -> None:
    later = T0 + timedelta(minutes=1)
    await enqueue(uow_factory, clock, a_job(1, run_after=later), a_job(2), a_job(3))

    claimed = [await claim(store) for _ in range(3)]

    assert [job and job.id for job in claimed] == ["job_0002", "job_0003", None]
    delayed = await claim(store, at=later)
    assert delayed is not None
    assert delayed.id == "job_0001"


async def test_a_job_whose_lease_expired_is_claimed_again_with_one_more_attempt(
    uow_factory, store, clock
) -> None:
    await enqueue(uow_factory, clock, a_job(1))
    assert await claim(store, A) is not None

    assert await claim(store, B, at=T0 + LEASE) is None  # the lease ends *after* locked_until
    again = await claim(store, B, at=T0 + LEASE + timedelta(seconds=1))

    assert again is not None
    assert (again.id, again.attempts) == ("job_0001", 2)
    record = await store.find(JobId("job_0001"))
    assert record is not None
    assert (record.status, record.locked_by, record.attempts) == ("running", B, 2)


async def test_only_the_current_holder_settles_a_job(uow_factory, store, clock) -> None:
    await enqueue(uow_factory, clock, a_job(1))
    job_id = JobId("job_0001")
    await claim(store, A)
    await claim(store, B, at=T0 + LEASE * 2)  # A's lease expired; B holds it now

    a_first, b_now = JobClaim(job_id, A, 1), JobClaim(job_id, B, 2)

    assert not await store.complete(a_first)
    assert not await store.fail(a_first, "boom")
    assert not await store.retry(a_first, run_after=T0, error="boom")
    assert not await store.complete(JobClaim(job_id, B, 1))  # B's claim was attempt 2
    record = await store.find(job_id)
    assert record is not None
    assert (record.status, record.locked_by) == ("running", B)

    assert await store.complete(b_now)
    record = await store.find(job_id)
    assert record is not None
    assert (record.status, record.locked_until) == ("done", None)
    assert not await store.complete(b_now)  # settled once
    assert await claim(store, at=T0 + LEASE * 5) is None


async def test_a_claim_completed_in_a_unit_of_work_counts_only_if_it_commits(
    uow_factory, store, clock
) -> None:
    await enqueue(uow_factory, clock, a_job(1))
    claimed = await claim(store, A)
    assert claimed is not None
    mine = claimed.claim_of(A)

    async with uow_factory() as uow:
        assert await uow.jobs.complete(mine)  # rolled back
    running = await store.find(claimed.id)
    async with uow_factory() as uow:
        assert await uow.jobs.complete(mine)
        await uow.commit()
    done = await store.find(claimed.id)

    assert running is not None
    assert running.status == "running"
    assert done is not None
    assert (done.status, done.locked_until) == ("done", None)


async def test_a_retried_job_waits_for_its_run_after_and_keeps_the_error(
    uow_factory, store, clock
) -> None:
    await enqueue(uow_factory, clock, a_job(1))
    await claim(store, A)
    retry_at = T0 + timedelta(seconds=30)

    assert await store.retry(
        JobClaim(JobId("job_0001"), A, 1), run_after=retry_at, error="x" * 5000
    )

    record = await store.find(JobId("job_0001"))
    assert record is not None
    assert (record.status, record.locked_by, record.locked_until) == ("queued", None, None)
    assert record.run_after == retry_at
    assert record.last_error == "x" * 2000
    assert await claim(store, B, at=retry_at - timedelta(seconds=1)) is None
    again = await claim(store, B, at=retry_at)
    assert again is not None
    assert again.attempts == 2


async def test_a_failed_job_is_never_claimed_again(uow_factory, store, clock) -> None:
    await enqueue(uow_factory, clock, a_job(1))
    await claim(store, A)

    assert await store.fail(JobClaim(JobId("job_0001"), A, 1), "gave up")

    record = await store.find(JobId("job_0001"))
    assert record is not None
    assert (record.status, record.last_error) == ("failed", "gave up")
    assert await claim(store, B, at=T0 + LEASE * 10) is None


async def test_concurrent_claimers_never_get_the_same_job(uow_factory, engine, clock) -> None:
    jobs = [a_job(n) for n in range(40)]
    async with uow_factory() as uow:
        for job in jobs:
            await uow.jobs.enqueue(job)
        await uow.commit()
    claims: dict[str, list[JobId]] = {}

    async def work(worker: str) -> None:
        mine = claims.setdefault(worker, [])
        store = SqlJobStore(engine, clock)  # its own transactions on its own connections
        while (job := await claim(store, worker)) is not None:
            mine.append(job.id)
            await asyncio.sleep(0)
            assert await store.complete(job.claim_of(worker))

    async with asyncio.timeout(30):
        await asyncio.gather(*(work(f"worker-{n}") for n in range(5)))

    taken = [job_id for ids in claims.values() for job_id in ids]
    assert sorted(taken) == sorted(job.id for job in jobs)
    assert len(set(taken)) == len(taken)


@pytest.mark.postgres
async def test_on_postgres_a_claim_skips_a_row_another_claim_holds(postgres_engine) -> None:
    clock = FrozenClock(T0)
    factory = SqlUnitOfWorkFactory(postgres_engine, clock=clock)
    await enqueue(factory, clock, a_job(1), a_job(2))

    async with postgres_engine.connect() as holder:
        await holder.begin()
        held = await SqlJobQueue(holder).claim(A, now=T0, lease=LEASE)  # uncommitted: locked
        assert held is not None
        assert held.id == "job_0001"

        async with asyncio.timeout(5):  # SKIP LOCKED: no waiting on the held row
            other = await claim(factory.job_store(), B)
            none_left = await claim(factory.job_store(), B)
        assert other is not None
        assert other.id == "job_0002"
        assert none_left is None

        await holder.rollback()

    back = await claim(factory.job_store(), B)
    assert back is not None
    assert (back.id, back.attempts) == ("job_0001", 1)
