"""An image job run under a worker's claim settles it with the job's outcome (core fakes).

The queue entry is completed in the transaction that records success or failure, so an
outcome is never stored while its job still looks leased; an unexpected error leaves the
claim open for the worker to retry.
"""

from __future__ import annotations

import attrs
import pytest

from ledgerkit import ALICE, PRICES, LedgerWorld
from mynth_core.errors import ProviderUnavailableError
from mynth_core.identity import Principal
from mynth_core.ids import ImageJobId, JobId, PersonaId
from mynth_core.images.model import JobStatus
from mynth_core.images.ports import JobClaim
from mynth_core.images.registry import ImageOptions, ImageRegistry, ImageTier
from mynth_core.images.services import ImageWork, RequestImage, RunImageJob
from mynth_core.ledger.model import EntryKind
from mynth_core.testing import (
    FakeUnitOfWorkFactory,
    PlainPromptRenderer,
    RecordingGenerationLog,
    ScriptedChatModel,
    a_persona,
)
from mynth_core.testing.images import InMemoryBlobStore, ScriptedImageGenerator


@attrs.define
class ImageWorld(LedgerWorld):
    generator: ScriptedImageGenerator = attrs.Factory(ScriptedImageGenerator)

    @property
    def store(self) -> FakeUnitOfWorkFactory:
        assert isinstance(self.uow, FakeUnitOfWorkFactory)
        return self.uow

    @property
    def run(self) -> RunImageJob:
        work = ImageWork(
            generator=self.generator,
            blobs=InMemoryBlobStore(),
            registry=ImageRegistry(),
            model=ScriptedChatModel(),
            renderer=PlainPromptRenderer(),
            log=RecordingGenerationLog(),
        )
        return RunImageJob(self.uow, self.clock, self.ids, self.policy, work)

    async def queued_job(self) -> ImageJobId:
        persona, _ = a_persona()
        async with self.uow() as uow:
            await uow.personas.add(persona)
            await uow.commit()
        request = RequestImage(self.uow, self.clock, self.ids, PRICES, ImageRegistry(), self.policy)
        job = await request(
            Principal(ALICE), PersonaId(persona.id), ImageOptions(quality=ImageTier.LOW)
        )
        return job.id

    def completed(self) -> list[JobClaim]:
        return self.store.store.images.completed

    async def status(self, job_id: ImageJobId) -> JobStatus:
        async with self.uow(read_only=True) as uow:
            return (await uow.images.get(job_id)).status


def a_claim(attempt: int = 1) -> JobClaim:
    return JobClaim(job_id=JobId("job_1"), worker_id="worker-a", attempt=attempt)


@pytest.fixture
def world() -> ImageWorld:
    return ImageWorld()


async def test_a_succeeded_job_completes_its_claim_with_the_image(world: ImageWorld) -> None:
    job_id = await world.queued_job()

    assert await world.run(job_id, a_claim()) is JobStatus.SUCCEEDED

    assert world.completed() == [a_claim()]
    assert len(world.store.store.images.images) == 1


async def test_a_provider_failure_completes_its_claim_with_the_refund(world: ImageWorld) -> None:
    job_id = await world.queued_job()
    world.generator.script(ProviderUnavailableError("runware is down"))

    assert await world.run(job_id, a_claim()) is JobStatus.FAILED

    assert world.completed() == [a_claim()]
    assert sum(e.kind is EntryKind.REFUND for e in await world.entries()) == 1


async def test_a_claim_on_a_finished_job_is_completed_without_running_it_again(
    world: ImageWorld,
) -> None:
    job_id = await world.queued_job()
    await world.run(job_id, a_claim(1))

    assert await world.run(job_id, a_claim(2)) is JobStatus.SUCCEEDED

    assert world.completed() == [a_claim(1), a_claim(2)]
    assert len(world.generator.requests) == 1


async def test_a_claim_on_a_missing_job_is_completed(world: ImageWorld) -> None:
    assert await world.run(ImageJobId("igj_gone"), a_claim()) is JobStatus.FAILED

    assert world.completed() == [a_claim()]


async def test_an_unexpected_error_leaves_the_claim_for_the_worker_to_retry(
    world: ImageWorld,
) -> None:
    job_id = await world.queued_job()
    world.generator.script(RuntimeError("a bug"))

    with pytest.raises(RuntimeError):
        await world.run(job_id, a_claim())

    assert world.completed() == []
    assert await world.status(job_id) is JobStatus.RUNNING


async def test_without_a_claim_nothing_is_completed(world: ImageWorld) -> None:
    job_id = await world.queued_job()

    assert await world.run(job_id) is JobStatus.SUCCEEDED

    assert world.completed() == []
