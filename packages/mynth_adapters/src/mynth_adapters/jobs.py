"""JobWorker: runs the durable queue's jobs in this process (ARCHITECTURE.md §8).

The worker claims due jobs with a lease and runs each with the handler of its `kind`,
at most `concurrency` at once. A handler that returns completes the job; one that raises
(or overruns `deadline`) is retried with backoff while `attempts < max_attempts`, after
which the kind's give-up path runs (images: fail the job and refund; publishes: fail the
publish) and the job is marked failed. Every claim counts as an attempt, so a job whose
worker died (its lease expired) is claimed again by another worker and gives up once its
attempts are spent.

**No heartbeat.** Each handler runs under `asyncio.timeout(deadline)` (5 min, the image
job deadline of PRODUCT.md §7.4) while its lease is `lease` (10 min, §7.4's stall limit):
a live worker always settles a job before its lease can expire, so leases need no
renewal, and an expired lease reliably means a dead worker. The lease is configurable
(`MYNTH_JOB_LEASE_SECONDS`: how soon a dead worker's jobs run again); `job_worker` then
keeps the deadline at half the lease when that is below 5 min (`deadline_for`).

Handlers run at least once per job and must be idempotent by `ref` (`RunImageJob` and
`RunPublishJob` are). A handler gets the worker's `JobClaim` and may complete it in the
transaction that records the job's outcome (`RunImageJob` does), which saves the worker a
transaction and leaves no window in which an outcome is recorded but its job still leased.

Cancelling a running worker cancels its in-flight handlers without settling their jobs;
their leases expire and another worker (or this one, restarted) runs them again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol, TypedDict, Unpack

import attrs

from mynth_adapters.sql.engine import background_first
from mynth_adapters.sql.jobs import ClaimedJob
from mynth_adapters.sql.uow import SqlUnitOfWorkFactory
from mynth_core.clock import Clock, SystemClock
from mynth_core.ids import ImageJobId, PersonaId
from mynth_core.images.model import FailureCode
from mynth_core.images.ports import JobClaim
from mynth_core.images.services import IMAGE_JOB_KIND, FailImageJob, RunImageJob
from mynth_core.publishing.services import PUBLISH_JOB_KIND, FailPublish, RunPublishJob
from mynth_core.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    import punq

_log = logging.getLogger("mynth.jobs")

Handler = Callable[[str, JobClaim], Awaitable[object]]
"""Runs the job whose subject is `ref` under `claim`; raising means failed, returning means
done. A handler that returns `SETTLED` completed the claim itself (`JobQueue.complete`, in
the transaction that recorded the job's outcome); otherwise the worker completes it."""


class GiveUpCause(enum.StrEnum):
    """Why the worker gave up on a job."""

    STALLED = "stalled"  # its workers died while running it, `max_attempts` times
    TIMED_OUT = "timed_out"  # its last attempt overran the deadline
    FAILED = "failed"  # its last attempt raised


GiveUp = Callable[[str, str, GiveUpCause], Awaitable[None]]
"""Called with `(ref, message, cause)` when a job failed for the last time."""


@attrs.frozen
class Settled:
    """What a handler returns when it completed its claim itself."""


SETTLED: Final = Settled()

CONCURRENCY: Final = 4
LEASE: Final = timedelta(minutes=10)  # PRODUCT.md §7.4: a job running > 10 min stalled
DEADLINE: Final = timedelta(minutes=5)  # §7.4's whole-job deadline; must stay below LEASE
MAX_ATTEMPTS: Final = 2  # a stalled or failed job runs once more, then gives up
POLL_INTERVAL: Final = 1.0  # seconds between idle claims when nothing wakes the worker
BACKOFF: Final = timedelta(seconds=5)  # before the first retry; doubles with each attempt
MAX_BACKOFF: Final = timedelta(minutes=5)
GRACE: Final = 10.0  # seconds a stopping worker waits for in-flight jobs
GIVE_UP_RETRIES: Final = 3  # a give-up path that raises is retried this often, then dropped


class JobStore(Protocol):
    """The worker's side of the job queue; each call is its own transaction.

    `SqlJobStore` (from `SqlUnitOfWorkFactory.job_store()`) is the implementation.
    Settling calls return False when the job is no longer this worker's (lease lost).
    """

    def wakeups(self, listener: Callable[[], None]) -> AbstractAsyncContextManager[None]: ...

    async def claim(
        self, worker_id: str, *, now: datetime, lease: timedelta
    ) -> ClaimedJob | None: ...

    async def complete(self, claim: JobClaim) -> bool: ...

    async def retry(self, claim: JobClaim, *, run_after: datetime, error: str) -> bool: ...

    async def fail(self, claim: JobClaim, error: str) -> bool: ...


def default_worker_id() -> str:
    """`host:pid:random`, unique per worker so leases name their holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class WorkerOptions(TypedDict, total=False):
    """`JobWorker`'s tuning, for builders such as `job_worker`."""

    concurrency: int
    lease: timedelta
    deadline: timedelta
    max_attempts: int
    poll_interval: float
    backoff: timedelta
    max_backoff: timedelta
    clock: Clock
    worker_id: str


_positive = attrs.validators.gt(0)
_positive_time = attrs.validators.gt(timedelta(0))


@attrs.define(kw_only=True)
class JobWorker:
    """Claims and runs due jobs; see the module docstring for the rules.

    `run_forever()` until cancelled or `stop()`; `running(grace=...)` and `serve(stop, ...)`
    wrap it for a lifespan and a CLI; `run_until_idle()` drains what is due (tests, tools).
    `notify()` wakes an idle worker at once (a job was just enqueued); the worker hands it
    to its store's `wakeups` while it runs.
    """

    store: JobStore
    handlers: Mapping[str, Handler]
    give_up: Mapping[str, GiveUp] = attrs.field(factory=dict)
    concurrency: int = attrs.field(default=CONCURRENCY, validator=_positive)
    lease: timedelta = attrs.field(default=LEASE, validator=_positive_time)
    deadline: timedelta = attrs.field(default=DEADLINE, validator=_positive_time)
    max_attempts: int = attrs.field(default=MAX_ATTEMPTS, validator=_positive)
    poll_interval: float = attrs.field(default=POLL_INTERVAL, validator=attrs.validators.gt(0.0))
    backoff: timedelta = BACKOFF
    max_backoff: timedelta = MAX_BACKOFF
    clock: Clock = attrs.field(factory=SystemClock)
    worker_id: str = attrs.field(factory=default_worker_id)
    _wake: asyncio.Event = attrs.field(init=False, factory=asyncio.Event)
    _stopping: asyncio.Event = attrs.field(init=False, factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        if self.deadline >= self.lease:
            msg = "the job deadline must be shorter than the lease (no heartbeat renews it)"
            raise ValueError(msg)

    @property
    def in_flight(self) -> int:
        """How many jobs this worker is running right now."""
        return len(self._tasks)

    def notify(self) -> None:
        """Wake the worker now: a job may be due (call on the worker's event loop)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; `run_forever` returns once the in-flight jobs have ended."""
        self._stopping.set()
        self._wake.set()

    async def run_forever(self) -> None:
        """Claim and run jobs until `stop()` (graceful) or cancellation (abandons leases)."""
        try:
            async with self.store.wakeups(self.notify):
                _log.info(
                    "job worker %s started (concurrency %d)", self.worker_id, self.concurrency
                )
                await self._drive(until_idle=False)
        finally:
            self._stopping.clear()
            _log.info("job worker %s stopped", self.worker_id)

    async def run_until_idle(self) -> int:
        """Run jobs until none is due and none is running; returns how many were claimed.

        A job retried with a future `run_after` is left for later.
        """
        return await self._drive(until_idle=True)

    @asynccontextmanager
    async def running(self, *, grace: float = GRACE) -> AsyncIterator[JobWorker]:
        """Run in the background for the block (an app lifespan), then stop gracefully.

        Leaving waits up to `grace` seconds for in-flight jobs, then cancels them (their
        leases expire and they run again elsewhere).
        """
        task = self._background()
        try:
            yield self
        finally:
            await self._shut_down(task, grace)

    async def serve(self, stop: asyncio.Event, *, grace: float = GRACE) -> None:
        """Run until `stop` is set (e.g. by SIGTERM), then stop gracefully (`running`).

        Raises whatever stopped the worker itself (a bug), rather than waiting on.
        """
        task = self._background()
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            await self._shut_down(task, grace)

    def _background(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self.run_forever(), name=f"job worker {self.worker_id}")

        def crashed(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and (error := done.exception()) is not None:
                _log.error("job worker %s crashed", self.worker_id, exc_info=error)

        task.add_done_callback(crashed)
        return task

    async def _shut_down(self, task: asyncio.Task[None], grace: float) -> None:
        if task.done():
            (outcome,) = await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, Exception):
                raise outcome
            return
        self.stop()
        _, pending = await asyncio.wait({task}, timeout=grace)
        if pending:
            _log.warning(
                "job worker %s: %d job(s) still running after %.0f s; abandoning them to "
                "their leases",
                self.worker_id,
                self.in_flight,
                grace,
            )
            task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if isinstance(outcome, Exception):
            raise outcome

    async def _drive(self, *, until_idle: bool) -> int:
        with background_first():  # on SQLite, jobs in flight finish before new requests
            return await self._claim_and_run(until_idle=until_idle)

    async def _claim_and_run(self, *, until_idle: bool) -> int:
        slots = asyncio.Semaphore(self.concurrency)
        claimed = 0
        try:
            while not self._stopping.is_set():
                await slots.acquire()
                if self._stopping.is_set():
                    slots.release()
                    break
                self._wake.clear()  # before the claim: a notify during it is not lost
                job = await self._claim()
                if job is None:
                    slots.release()
                    if not until_idle:
                        await self._idle()
                    elif self._tasks:
                        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                    else:
                        break
                    continue
                claimed += 1
                self._start(job, slots)
            if self._tasks:  # stopping: let the in-flight jobs finish
                await asyncio.wait(self._tasks)
        finally:
            # Only a cancellation (or a bug) leaves tasks here: abandon them to their leases.
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return claimed

    def _start(self, job: ClaimedJob, slots: asyncio.Semaphore) -> None:
        task = asyncio.create_task(self._run(job), name=f"job {job.id} ({job.kind})")
        self._tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            slots.release()
            if not done.cancelled() and (error := done.exception()) is not None:
                _log.error("job %s: the worker failed", job.id, exc_info=error)

        task.add_done_callback(finished)

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self.poll_interval):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _claim(self) -> ClaimedJob | None:
        try:
            return await self.store.claim(self.worker_id, now=self.clock.now(), lease=self.lease)
        except Exception:  # noqa: BLE001 - an unreachable database must not stop the worker
            _log.warning("job worker %s: claiming failed", self.worker_id, exc_info=True)
            return None

    async def _run(self, job: ClaimedJob) -> None:
        if job.attempts > self.max_attempts:  # earlier attempts stalled: their workers died
            stalled = f"the job's worker stopped {job.attempts - 1} time(s)"
            await self._give_up(job, stalled, stalled, GiveUpCause.STALLED)
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            _log.error("job %s: no handler for kind %r", job.id, job.kind)
            await self._settle(job, "fail", error=f"no handler for kind {job.kind!r}")
            return
        seconds = self.deadline.total_seconds()
        try:
            async with asyncio.timeout(seconds) as deadline:
                outcome = await handler(job.ref, job.claim_of(self.worker_id))
        except Exception as exc:  # noqa: BLE001 - every handler failure is retried or given up
            if isinstance(exc, TimeoutError) and deadline.expired():
                reason = f"the job did not finish within {seconds:g} s"
                detail, cause = reason, GiveUpCause.TIMED_OUT
            else:
                reason = f"the job failed ({type(exc).__name__})"
                detail, cause = f"{type(exc).__name__}: {exc}", GiveUpCause.FAILED
            _log.warning(
                "job %s (%s %s) attempt %d failed: %s",
                job.id,
                job.kind,
                job.ref,
                job.attempts,
                detail,
                exc_info=not isinstance(exc, TimeoutError),
            )
            await self._failed(job, reason, detail, cause)
            return
        if not isinstance(outcome, Settled):
            await self._settle(job, "complete")

    async def _failed(self, job: ClaimedJob, reason: str, detail: str, cause: GiveUpCause) -> None:
        if job.attempts < self.max_attempts:
            delay = self._delay(job.attempts)
            await self._settle(job, "retry", error=detail, run_after=self.clock.now() + delay)
            self._wake_after(delay)
        else:
            await self._give_up(job, reason, detail, cause)

    async def _give_up(self, job: ClaimedJob, reason: str, detail: str, cause: GiveUpCause) -> None:
        """Run the kind's give-up path with `reason` (user-facing), then fail the job."""
        give_up = self.give_up.get(job.kind)
        if give_up is not None:
            try:
                await give_up(job.ref, reason, cause)
            except Exception:  # noqa: BLE001 - retried below, like a handler failure
                _log.exception("job %s (%s %s): giving up failed", job.id, job.kind, job.ref)
                if job.attempts < self.max_attempts + GIVE_UP_RETRIES:
                    delay = self._delay(job.attempts)
                    await self._settle(
                        job,
                        "retry",
                        error=f"giving up failed; {detail}",
                        run_after=self.clock.now() + delay,
                    )
                    self._wake_after(delay)
                    return
        await self._settle(job, "fail", error=detail)

    def _wake_after(self, delay: timedelta) -> None:
        """Claim again when a retry falls due, if that is sooner than the next poll."""
        seconds = delay.total_seconds()
        if seconds < self.poll_interval:
            asyncio.get_running_loop().call_later(seconds, self._wake.set)

    def _delay(self, attempts: int) -> timedelta:
        return min(self.backoff * (1 << max(attempts - 1, 0)), self.max_backoff)

    async def _settle(
        self,
        job: ClaimedJob,
        outcome: str,
        *,
        error: str = "",
        run_after: datetime | None = None,
    ) -> None:
        """Record the job's outcome; on failure the lease expires and the job runs again."""
        store, claim = self.store, job.claim_of(self.worker_id)
        try:
            if outcome == "complete":
                mine = await store.complete(claim)
            elif outcome == "retry" and run_after is not None:
                mine = await store.retry(claim, run_after=run_after, error=error)
            else:
                mine = await store.fail(claim, error)
        except Exception:  # noqa: BLE001 - the lease expiring is the fallback
            _log.warning("job %s: recording %s failed", job.id, outcome, exc_info=True)
            return
        if not mine:
            _log.warning("job %s: lost its lease before recording %s", job.id, outcome)


# What an image job that the worker gave up on failed with (PRODUCT §12's codes).
_IMAGE_FAILURES: Final = {
    GiveUpCause.STALLED: FailureCode.WORKER_DIED,
    GiveUpCause.TIMED_OUT: FailureCode.PROVIDER_TIMEOUT,
    GiveUpCause.FAILED: FailureCode.PROVIDER_ERROR,
}


def deadline_for(lease: timedelta) -> timedelta:
    """The job deadline under `lease`: DEADLINE, or half the lease when that is shorter."""
    return min(DEADLINE, lease / 2)


def job_worker(container: punq.Container, **options: Unpack[WorkerOptions]) -> JobWorker:
    """A worker for every job kind of `container` (a `bootstrap` container): images, publishes.

    Needs the container's `UnitOfWorkFactory` to be a `SqlUnitOfWorkFactory` (its jobs
    table is the queue; its commits wake this worker). The handlers (`RunImageJob`,
    `RunPublishJob`) and give-up paths (`FailImageJob`: fail and refund; `FailPublish`: the
    publish fails with `classification_failed`) are resolved when a job runs, so
    registrations made after this call are used. A `lease` without a `deadline` gets
    `deadline_for(lease)`.
    """
    if "lease" in options and "deadline" not in options:
        options["deadline"] = deadline_for(options["lease"])
    uow = container.resolve(UnitOfWorkFactory)
    if not isinstance(uow, SqlUnitOfWorkFactory):
        msg = f"the job worker needs the SQL unit of work, not {type(uow).__name__}"
        raise TypeError(msg)

    async def run_image_job(ref: str, claim: JobClaim) -> object:
        run: RunImageJob = container.resolve(RunImageJob)
        await run(ImageJobId(ref), claim)
        return SETTLED  # in the transaction that recorded the outcome

    async def fail_image_job(ref: str, message: str, cause: GiveUpCause) -> None:
        fail: FailImageJob = container.resolve(FailImageJob)
        await fail(ImageJobId(ref), message, _IMAGE_FAILURES[cause])

    async def run_publish_job(ref: str, _claim: JobClaim) -> object:
        run: RunPublishJob = container.resolve(RunPublishJob)
        return await run(PersonaId(ref))

    async def fail_publish(ref: str, message: str, _cause: GiveUpCause) -> None:
        fail: FailPublish = container.resolve(FailPublish)
        await fail(PersonaId(ref), message)

    return JobWorker(
        store=uow.job_store(),
        handlers={IMAGE_JOB_KIND: run_image_job, PUBLISH_JOB_KIND: run_publish_job},
        give_up={IMAGE_JOB_KIND: fail_image_job, PUBLISH_JOB_KIND: fail_publish},
        **options,
    )
