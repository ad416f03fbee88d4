"""JobWorker over the SQLite job table, with dummy handlers: runs, retries, gives up, wakes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import punq
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.jobs import SETTLED, GiveUpCause, JobWorker, job_worker
from mynth_adapters.sql import SqlUnitOfWorkFactory, migrate
from mynth_adapters.sql.jobs import JobRecord, SqlJobStore
from mynth_core.ids import ImageJobId, JobId, PersonaId
from mynth_core.images.model import FailureCode
from mynth_core.images.ports import JobClaim, QueuedJob
from mynth_core.images.services import FailImageJob, RunImageJob
from mynth_core.publishing.services import FailPublish, RunPublishJob
from mynth_core.testing import FakeUnitOfWorkFactory
from mynth_core.uow import UnitOfWorkFactory
from sqlkit import sqlite_engine_at

FAST = {"poll_interval": 0.05, "backoff": timedelta(0)}


@attrs.define
class Recorder:
    """A handler: records each ref, optionally failing the first `failures` calls."""

    failures: int = 0
    delay: float = 0.0
    calls: list[str] = attrs.field(factory=list)
    running: int = 0
    most_at_once: int = 0

    async def __call__(self, ref: str, _claim: JobClaim) -> None:
        self.calls.append(ref)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            if len(self.calls) <= self.failures:
                raise RuntimeError(f"attempt {len(self.calls)} failed")
        finally:
            self.running -= 1


@attrs.define
class GiveUps:
    calls: list[tuple[str, str]] = attrs.field(factory=list)
    causes: list[GiveUpCause] = attrs.field(factory=list)
    failures: int = 0

    async def __call__(self, ref: str, message: str, cause: GiveUpCause) -> None:
        self.calls.append((ref, message))
        self.causes.append(cause)
        if len(self.calls) <= self.failures:
            raise RuntimeError("the refund failed")


@attrs.frozen
class _At:
    """A clock standing still at `at`."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sqlite_engine_at(tmp_path) as engine:
        await migrate(engine)
        yield engine


@pytest.fixture
def uow_factory(engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def worker_for(
    uow_factory: SqlUnitOfWorkFactory,
    handler: object,
    give_up: object = None,
    **options: object,
) -> JobWorker:
    settings: dict[str, object] = {**FAST, **options}
    return JobWorker(
        store=uow_factory.job_store(),
        handlers={"test": handler},  # type: ignore[dict-item]
        give_up={} if give_up is None else {"test": give_up},  # type: ignore[dict-item]
        **settings,  # type: ignore[arg-type]
    )


async def enqueue(uow_factory: SqlUnitOfWorkFactory, *refs: str, kind: str = "test") -> None:
    async with uow_factory() as uow:
        for ref in refs:
            await uow.jobs.enqueue(QueuedJob(id=JobId(f"job_{ref}"), kind=kind, ref=ref))
        await uow.commit()


async def record(uow_factory: SqlUnitOfWorkFactory, ref: str) -> JobRecord:
    found = await uow_factory.job_store().find(JobId(f"job_{ref}"))
    assert found is not None
    return found


async def eventually(condition, *, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls state the handlers change
            await asyncio.sleep(0.005)


async def test_every_job_runs_once_and_is_done(uow_factory) -> None:
    handler = Recorder()
    refs = [f"r{n}" for n in range(10)]
    await enqueue(uow_factory, *refs)

    claimed = await worker_for(uow_factory, handler).run_until_idle()

    assert claimed == 10
    assert sorted(handler.calls) == sorted(refs)
    for ref in refs:
        assert (await record(uow_factory, ref)).status == "done"
    assert await worker_for(uow_factory, handler).run_until_idle() == 0


async def test_a_failed_attempt_is_retried_and_then_done(uow_factory) -> None:
    handler, give_up = Recorder(failures=1), GiveUps()
    await enqueue(uow_factory, "r1")

    await worker_for(uow_factory, handler, give_up).run_until_idle()

    assert handler.calls == ["r1", "r1"]
    assert give_up.calls == []
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts) == ("done", 2)
    assert job.last_error == "RuntimeError: attempt 1 failed"


async def test_the_last_failed_attempt_gives_up_and_fails_the_job(uow_factory) -> None:
    handler, give_up = Recorder(failures=99), GiveUps()
    await enqueue(uow_factory, "r1")

    await worker_for(uow_factory, handler, give_up, max_attempts=2).run_until_idle()

    assert handler.calls == ["r1", "r1"]
    assert give_up.calls == [("r1", "the job failed (RuntimeError)")]
    assert give_up.causes == [GiveUpCause.FAILED]
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts) == ("failed", 2)
    assert job.last_error == "RuntimeError: attempt 2 failed"


async def test_a_retry_waits_for_its_backoff(uow_factory) -> None:
    handler = Recorder(failures=1)
    await enqueue(uow_factory, "r1")
    worker = worker_for(uow_factory, handler, backoff=timedelta(minutes=1))

    await worker.run_until_idle()

    assert handler.calls == ["r1"]  # the retry is not due yet
    job = await record(uow_factory, "r1")
    assert job.status == "queued"
    assert job.run_after is not None
    assert job.run_after > datetime.now(UTC) + timedelta(seconds=50)


async def test_a_job_over_its_deadline_fails_like_an_error(uow_factory) -> None:
    handler, give_up = Recorder(delay=10), GiveUps()
    await enqueue(uow_factory, "r1")
    worker = worker_for(
        uow_factory, handler, give_up, deadline=timedelta(seconds=0.05), lease=timedelta(seconds=5)
    )

    async with asyncio.timeout(5):
        await worker.run_until_idle()

    assert handler.calls == ["r1", "r1"]
    assert give_up.calls == [("r1", "the job did not finish within 0.05 s")]
    assert give_up.causes == [GiveUpCause.TIMED_OUT]
    assert (await record(uow_factory, "r1")).status == "failed"


async def test_a_give_up_that_raises_is_retried_before_the_job_fails(uow_factory) -> None:
    handler, give_up = Recorder(failures=99), GiveUps(failures=1)
    await enqueue(uow_factory, "r1")

    await worker_for(uow_factory, handler, give_up).run_until_idle()

    assert handler.calls == ["r1", "r1"]  # the handler does not run a third time
    assert [ref for ref, _ in give_up.calls] == ["r1", "r1"]
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts) == ("failed", 3)


async def test_a_job_without_a_handler_fails(uow_factory) -> None:
    await enqueue(uow_factory, "r1", kind="unknown")

    await worker_for(uow_factory, Recorder()).run_until_idle()

    job = await record(uow_factory, "r1")
    assert (job.status, job.last_error) == ("failed", "no handler for kind 'unknown'")


async def test_no_more_jobs_run_at_once_than_the_concurrency(uow_factory) -> None:
    handler = Recorder(delay=0.1)
    await enqueue(uow_factory, *(f"r{n}" for n in range(7)))

    await worker_for(uow_factory, handler, concurrency=3).run_until_idle()

    assert handler.most_at_once == 3
    assert Counter(handler.calls) == Counter(f"r{n}" for n in range(7))


async def test_an_enqueue_in_this_process_wakes_the_idle_worker(uow_factory) -> None:
    handler = Recorder()
    worker = worker_for(uow_factory, handler, poll_interval=60)

    async with worker.running(grace=1):
        await asyncio.sleep(0.05)  # the worker found nothing and sleeps for a minute
        await enqueue(uow_factory, "r1")
        await eventually(lambda: handler.calls == ["r1"], within=2)


async def test_a_retry_due_before_the_next_poll_wakes_the_idle_worker(uow_factory) -> None:
    handler = Recorder(failures=1)
    worker = worker_for(uow_factory, handler, poll_interval=60, backoff=timedelta(seconds=0.05))

    async with worker.running(grace=1):
        await enqueue(uow_factory, "r1")
        await eventually(lambda: len(handler.calls) == 2, within=2)

    assert (await record(uow_factory, "r1")).status == "done"


async def test_notify_wakes_the_worker_for_a_job_enqueued_elsewhere(uow_factory, engine) -> None:
    handler = Recorder()
    worker = worker_for(uow_factory, handler, poll_interval=60)
    other_process = SqlUnitOfWorkFactory(engine)  # its commits signal nobody here

    async with worker.running(grace=1):
        await asyncio.sleep(0.05)
        await enqueue(other_process, "r1")
        await asyncio.sleep(0.1)
        assert handler.calls == []
        worker.notify()
        await eventually(lambda: handler.calls == ["r1"], within=2)


async def test_a_cancelled_worker_leaves_its_job_for_the_next_worker(uow_factory) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def stuck(_ref: str, _claim: JobClaim) -> None:
        started.set()
        await release.wait()

    await enqueue(uow_factory, "r1")
    first = worker_for(uow_factory, stuck)  # a 10-minute lease
    task = asyncio.create_task(first.run_forever())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    job = await record(uow_factory, "r1")
    assert (job.status, job.locked_by) == ("running", first.worker_id)

    handler = Recorder()
    after_the_lease = _At(datetime.now(UTC) + timedelta(minutes=11))
    await worker_for(uow_factory, handler, clock=after_the_lease).run_until_idle()

    assert handler.calls == ["r1"]
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts) == ("done", 2)


async def test_a_job_whose_workers_kept_dying_gives_up_without_running(uow_factory) -> None:
    await enqueue(uow_factory, "r1")
    store = SqlJobStore(uow_factory.engine)
    for dead in range(2):  # two workers claimed it and died
        at = datetime.now(UTC) + timedelta(minutes=20 * dead)
        assert await store.claim(f"dead-{dead}", now=at, lease=timedelta(minutes=10)) is not None
    handler, give_up = Recorder(), GiveUps()
    later = datetime.now(UTC) + timedelta(hours=1)
    worker = worker_for(uow_factory, handler, give_up, clock=_At(later))

    await worker.run_until_idle()

    assert handler.calls == []
    assert give_up.calls == [("r1", "the job's worker stopped 2 time(s)")]
    assert give_up.causes == [GiveUpCause.STALLED]
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts) == ("failed", 3)


async def test_stopping_lets_in_flight_jobs_finish_within_the_grace(uow_factory) -> None:
    handler = Recorder(delay=0.1)
    await enqueue(uow_factory, "r1")
    worker = worker_for(uow_factory, handler)

    async with worker.running(grace=5):
        await eventually(lambda: handler.running == 1)

    assert (await record(uow_factory, "r1")).status == "done"
    assert worker.in_flight == 0


async def test_stopping_abandons_a_job_that_outlasts_the_grace(uow_factory) -> None:
    handler = Recorder(delay=10)
    await enqueue(uow_factory, "r1")
    worker = worker_for(uow_factory, handler)

    async with worker.running(grace=0.05):
        await eventually(lambda: handler.running == 1)

    assert (await record(uow_factory, "r1")).status == "running"  # the lease will expire
    assert handler.running == 0


async def test_serve_runs_until_the_stop_event(uow_factory) -> None:
    handler = Recorder()
    await enqueue(uow_factory, "r1")
    stop = asyncio.Event()
    serving = asyncio.create_task(worker_for(uow_factory, handler).serve(stop, grace=1))

    await eventually(lambda: handler.calls == ["r1"])
    stop.set()
    async with asyncio.timeout(2):
        await serving


async def test_serve_returns_with_the_error_when_the_worker_itself_breaks(uow_factory) -> None:
    class BrokenStore:
        def __init__(self, inner: SqlJobStore) -> None:
            self.inner = inner

        def wakeups(self, _listener: object) -> object:
            raise RuntimeError("a bug in the worker")

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    worker = JobWorker(store=BrokenStore(uow_factory.job_store()), handlers={})

    async with asyncio.timeout(2):
        with pytest.raises(RuntimeError, match="a bug in the worker"):
            await worker.serve(asyncio.Event(), grace=1)


async def test_a_hundred_short_jobs_run_about_concurrency_at_a_time(uow_factory) -> None:
    handler = Recorder(delay=0.05)
    await enqueue(uow_factory, *(f"r{n:03d}" for n in range(100)))
    worker = worker_for(uow_factory, handler, concurrency=10)
    loop = asyncio.get_running_loop()

    started = loop.time()
    async with worker.running(grace=1):
        await eventually(lambda: len(handler.calls) == 100, within=10)
    elapsed = loop.time() - started

    assert handler.most_at_once <= 10
    assert elapsed < 2.0  # ideally 10 rounds of 50 ms; one at a time would take 5 s


def test_the_deadline_must_be_shorter_than_the_lease(uow_factory) -> None:
    with pytest.raises(ValueError, match="deadline"):
        worker_for(uow_factory, Recorder(), lease=timedelta(minutes=5))
    with pytest.raises(ValueError, match="concurrency"):
        worker_for(uow_factory, Recorder(), concurrency=0)


async def test_the_job_worker_resolves_the_image_use_cases_when_a_job_runs(uow_factory) -> None:
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=uow_factory)
    worker = job_worker(container, poll_interval=0.05, backoff=timedelta(0))
    runs: list[ImageJobId] = []
    failures: list[tuple[ImageJobId, str]] = []
    codes: list[FailureCode] = []

    async def run(job_id: ImageJobId, _claim: JobClaim) -> None:
        runs.append(job_id)
        raise RuntimeError("the provider is down")

    async def fail(job_id: ImageJobId, message: str, code: FailureCode) -> None:
        failures.append((job_id, message))
        codes.append(code)

    container.register(RunImageJob, instance=run)  # registered after the worker was built
    container.register(FailImageJob, instance=fail)
    await enqueue(uow_factory, "igj_1", kind="image")

    await worker.run_until_idle()

    assert runs == ["igj_1", "igj_1"]
    assert failures == [("igj_1", "the job failed (RuntimeError)")]
    assert codes == [FailureCode.PROVIDER_ERROR]


async def test_an_image_job_whose_workers_kept_dying_fails_as_worker_died(uow_factory) -> None:
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=uow_factory)
    codes: list[FailureCode] = []

    async def fail(_job_id: ImageJobId, _message: str, code: FailureCode) -> None:
        codes.append(code)

    container.register(FailImageJob, instance=fail)
    await enqueue(uow_factory, "igj_1", kind="image")
    store = SqlJobStore(uow_factory.engine)
    for dead in range(2):  # two workers claimed it and died
        at = datetime.now(UTC) + timedelta(minutes=20 * dead)
        assert await store.claim(f"dead-{dead}", now=at, lease=timedelta(minutes=10)) is not None
    later = datetime.now(UTC) + timedelta(hours=1)
    worker = job_worker(container, poll_interval=0.05, backoff=timedelta(0), clock=_At(later))

    await worker.run_until_idle()

    assert codes == [FailureCode.WORKER_DIED]
    assert (await record(uow_factory, "igj_1")).status == "failed"


async def test_the_job_worker_runs_publish_jobs_and_fails_the_publish_on_giving_up(
    uow_factory,
) -> None:
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=uow_factory)
    worker = job_worker(container, poll_interval=0.05, backoff=timedelta(0))
    runs: list[PersonaId] = []
    failures: list[tuple[PersonaId, str]] = []

    async def run(persona_id: PersonaId) -> None:
        runs.append(persona_id)
        if persona_id == "prs_bad":
            raise RuntimeError("the database hiccuped")

    async def fail(persona_id: PersonaId, message: str) -> None:
        failures.append((persona_id, message))

    container.register(RunPublishJob, instance=run)
    container.register(FailPublish, instance=fail)
    await enqueue(uow_factory, "prs_ok", "prs_bad", kind="publish")

    await worker.run_until_idle()

    assert sorted(runs) == ["prs_bad", "prs_bad", "prs_ok"]
    assert failures == [("prs_bad", "the job failed (RuntimeError)")]
    assert (await record(uow_factory, "prs_ok")).status == "done"
    assert (await record(uow_factory, "prs_bad")).status == "failed"


async def test_a_handler_that_settles_its_claim_itself_is_not_settled_again(
    uow_factory, caplog
) -> None:
    claims: list[JobClaim] = []

    async def settling(_ref: str, claim: JobClaim) -> object:
        claims.append(claim)
        async with uow_factory() as uow:  # as the job's outcome is recorded
            assert await uow.jobs.complete(claim)
            await uow.commit()
        return SETTLED

    await enqueue(uow_factory, "r1")
    worker = worker_for(uow_factory, settling)

    await worker.run_until_idle()

    assert claims == [JobClaim(job_id=JobId("job_r1"), worker_id=worker.worker_id, attempt=1)]
    job = await record(uow_factory, "r1")
    assert (job.status, job.attempts, job.locked_until) == ("done", 1, None)
    assert "lost its lease" not in caplog.text


async def test_the_job_worker_lets_the_image_use_case_settle_its_claim(uow_factory) -> None:
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=uow_factory)
    worker = job_worker(container, poll_interval=0.05, backoff=timedelta(0))
    claims: list[JobClaim] = []

    async def run(_job_id: ImageJobId, claim: JobClaim) -> None:
        claims.append(claim)
        async with uow_factory() as uow:
            await uow.jobs.complete(claim)
            await uow.commit()

    container.register(RunImageJob, instance=run)
    await enqueue(uow_factory, "igj_1", kind="image")

    await worker.run_until_idle()

    assert [c.job_id for c in claims] == ["job_igj_1"]
    assert (await record(uow_factory, "igj_1")).status == "done"


def test_the_job_worker_needs_the_sql_unit_of_work() -> None:
    container = punq.Container()
    container.register(UnitOfWorkFactory, instance=FakeUnitOfWorkFactory())

    with pytest.raises(TypeError, match="SQL unit of work"):
        job_worker(container)
