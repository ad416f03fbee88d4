"""Image use cases: request (charge + enqueue), run (the job handler), give up (refund), read.

A request charges and creates the job `queued` in one transaction, under the user's balance
lock, so two parallel requests cannot both be the third job in flight; the job queue row is
written in the same transaction, so a committed request is never lost. `RunImageJob` is
idempotent by job id: a finished job is left alone; a job found `running` was left by a dead
worker and runs again once, then fails with a refund (§7.4).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Final

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import (
    ContentRefusedError,
    ImageDownloadError,
    MynthError,
    NotFoundError,
    ProviderError,
    ProviderTimeoutError,
    TooManyImageJobsError,
)
from mynth_core.generation.ports import ChatModel, ChatRequest, PromptRenderer
from mynth_core.generation.runs import GenerationLog, Trace
from mynth_core.identity import Principal
from mynth_core.ids import (
    IMAGE,
    IMAGE_JOB,
    JOB,
    IdFactory,
    ImageId,
    ImageJobId,
    JobId,
    PersonaId,
)
from mynth_core.images.model import FailureCode, ImageJob, JobError, JobStatus, StoredImage
from mynth_core.images.ports import (
    BlobStore,
    ImageGenerator,
    ImageRequest,
    JobClaim,
    QueuedJob,
    RenderedImage,
    image_key,
)
from mynth_core.images.prompts import ImagePromptSpec, fallback_prompt
from mynth_core.images.registry import PROMPT_LIMIT, ImageOptions, ImageRegistry
from mynth_core.ledger.model import Posting, Reference
from mynth_core.ledger.services import LedgerPolicy, charge_in, new_entry_id, refund_in
from mynth_core.personas.events import PersonaImageFailed, PersonaImageGenerated
from mynth_core.personas.model import PersonaVersion
from mynth_core.personas.services import record
from mynth_core.pricing import ImageTier, Operation, PriceTable
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger(__name__)

MAX_IN_FLIGHT: Final = 2
MAX_ATTEMPTS: Final = 2  # a job whose worker died runs once more, then fails
IMAGE_JOB_KIND: Final = "image"
IMAGE_JOB_REFERENCE: Final = "image_job"
CRAFT_MODELS: Final = ("x-ai/grok-4-fast", "moonshotai/kimi-k2-0905")
CRAFT_TIMEOUT: Final = 60.0
WEBP: Final = "image/webp"


@attrs.frozen
class RequestImage:
    """Charge for an image of a persona's current version and queue the job (202)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    prices: PriceTable
    registry: ImageRegistry
    policy: LedgerPolicy

    async def __call__(
        self, who: Principal, persona_id: PersonaId, options: ImageOptions
    ) -> ImageJob:
        """Validate, check the in-flight limit, charge, create and enqueue, atomically.

        Raises:
            ValidationError, UnknownModelError, NotFoundError, TooManyImageJobsError,
            InsufficientTokensError: nothing was created.
        """
        options = options.check()
        model = self.registry.resolve(options)
        cost = self.prices.image_cost(options.quality, options.model)
        at = self.clock.now()
        job_id = ImageJobId(self.ids.new(IMAGE_JOB))
        key = f"{Operation.IMAGE_GENERATE}:{job_id}"
        async with self.uow() as uow:
            persona = await uow.personas.get(persona_id, owner=who.user_id)
            await uow.ledger.account(who.user_id, for_update=True)  # serialises the count
            if await uow.images.count_in_flight(who.user_id) >= MAX_IN_FLIGHT:
                raise TooManyImageJobsError(limit=MAX_IN_FLIGHT)
            posting = Posting(
                id=new_entry_id(self.ids),
                key=key,
                at=at,
                operation=Operation.IMAGE_GENERATE,
                reference=Reference(IMAGE_JOB_REFERENCE, job_id),
            )
            if cost.value:
                await charge_in(uow, who.user_id, posting, cost, policy=self.policy, ids=self.ids)
            job = ImageJob(
                id=job_id,
                owner_id=who.user_id,
                persona_id=persona_id,
                persona_version_id=persona.current_version_id,
                quality=options.quality,
                model=model.id,
                options=options,
                cost=cost.value,
                charge_key=key,
                task_uuid=str(uuid.uuid4()),
                created_at=at,
            )
            await uow.images.add(job)
            await uow.jobs.enqueue(
                QueuedJob(id=JobId(self.ids.new(JOB)), kind=IMAGE_JOB_KIND, ref=job_id)
            )
            await uow.commit()
        return job


@attrs.frozen(kw_only=True)
class ImageWork:
    """What running an image job needs besides the store."""

    generator: ImageGenerator
    blobs: BlobStore
    registry: ImageRegistry
    model: ChatModel
    renderer: PromptRenderer
    log: GenerationLog


@attrs.frozen
class RunImageJob:
    """The job handler: craft the prompt, generate, store, and record the outcome."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy
    work: ImageWork

    async def __call__(self, job_id: ImageJobId, claim: JobClaim | None = None) -> JobStatus:
        """Run the job once; return how it ended.

        Provider failures fail the job with a refund. Unexpected errors propagate: the worker
        retries them, then gives up through `FailImageJob`. With the worker's `claim`, the
        transaction that records how the job ended also completes its queue entry, so a
        return means the claim is settled.
        """
        started = await self._start(job_id, claim)
        if started is None:
            return JobStatus.FAILED
        job, version = started
        if job.status is not JobStatus.RUNNING:
            return job.status
        if version is None:  # pragma: no cover - versions are never removed
            return await self._fail(job, FailureCode.PERSONA_DELETED, "the version is gone", claim)
        prompt = await self._prompt(job, version)
        model = self.work.registry.get(job.model)
        width, height = model.width, model.height
        request = ImageRequest(
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            task_uuid=job.task_uuid,
            nsfw=job.options.nsfw,
        )
        trace = Trace(operation="image_generate", models=(model.id,), persona_id=job.persona_id)
        try:
            rendered = await self.work.generator.generate(request)
        except ProviderError as exc:
            self.work.log.record(trace.finish(exc))
            return await self._fail(job, _code_of(exc), str(exc)[:300], claim)
        self.work.log.record(trace.finish())
        return await self._succeed(job, rendered, prompt, claim)

    async def _start(
        self, job_id: ImageJobId, claim: JobClaim | None
    ) -> tuple[ImageJob, PersonaVersion | None] | None:
        """Mark the job running (a new attempt) and read its version, in one transaction.

        A job that cannot run (missing, finished, or out of attempts) settles `claim` here.
        """
        async with self.uow() as uow:
            try:
                job = await uow.images.get_for_update(job_id)
            except NotFoundError:
                _log.warning("image job %s does not exist", job_id)
                await _settled(uow, claim)
                return None
            if not job.status.in_flight:
                await _settled(uow, claim)
                return job, None
            if job.status is JobStatus.RUNNING:  # its worker died mid-job
                if job.attempts >= MAX_ATTEMPTS:
                    await _give_up(uow, self, job, FailureCode.WORKER_DIED, "the worker stopped")
                    await _settled(uow, claim)
                    return None
                job = job.requeue()
            job = job.start(at=self.clock.now())
            await uow.images.save(job)
            version = await uow.personas.find_version(job.persona_version_id)
            await uow.commit()
        return job, version

    async def _prompt(self, job: ImageJob, version: PersonaVersion) -> str:
        data = version.data
        if job.quality is ImageTier.LOW and job.options.model is None:
            return data.appearance[:PROMPT_LIMIT]
        spec = ImagePromptSpec(
            data=data, options=job.options, target=self.work.registry.get(job.model).display_name
        )
        trace = Trace(operation="image_prompt", models=CRAFT_MODELS, persona_id=job.persona_id)
        request = ChatRequest(
            messages=self.work.renderer.render(spec),
            models=CRAFT_MODELS,
            max_tokens=1000,
            timeout=CRAFT_TIMEOUT,
        )
        try:
            completion = await self.work.model.complete(request)
            trace.completion, trace.attempts = completion, completion.attempts
            text = " ".join(completion.text.split())[:PROMPT_LIMIT]
            if not text:
                raise ValueError("empty prompt")  # noqa: TRY301
        except (MynthError, ValueError) as exc:
            self.work.log.record(trace.finish(exc))
            return fallback_prompt(data, job.options)
        self.work.log.record(trace.finish())
        return text

    async def _succeed(
        self, job: ImageJob, rendered: RenderedImage, prompt: str, claim: JobClaim | None
    ) -> JobStatus:
        image_id = ImageId(self.ids.new(IMAGE))
        await asyncio.gather(  # two independent files: write (and sync) them at once
            self.work.blobs.put(image_key(image_id), rendered.webp, content_type=WEBP),
            self.work.blobs.put(
                image_key(image_id, thumbnail=True), rendered.thumbnail, content_type=WEBP
            ),
        )
        at = self.clock.now()
        async with self.uow() as uow:
            current = await uow.images.get_for_update(job.id)
            if current.status is not JobStatus.RUNNING or current.attempts != job.attempts:
                await _settled(uow, claim)
                return current.status  # another attempt settled it meanwhile
            image = StoredImage(
                id=image_id,
                owner_id=job.owner_id,
                persona_id=job.persona_id,
                job_id=job.id,
                width=rendered.width,
                height=rendered.height,
                model=rendered.model,
                nsfw=job.options.nsfw,
                prompt=prompt,
                created_at=at,
            )
            await uow.images.add_image(image)
            await uow.images.save(current.succeed(image_id, at=at))
            try:
                persona = await uow.personas.get(job.persona_id)
                if persona.profile_image_id is None:
                    # Saving writes the whole persona: lock it and look again, so an edit
                    # committed since the first read is neither lost nor overwritten.
                    persona = await uow.personas.get_for_update(job.persona_id, owner=job.owner_id)
                    if persona.profile_image_id is None:
                        await uow.personas.save(persona.show_image(image_id, at=at))
            except NotFoundError:
                persona = None  # deleted meanwhile: the image is kept, nothing to show it on
            if persona is not None:
                event = PersonaImageGenerated(
                    persona_id=job.persona_id,
                    at=at,
                    job_id=job.id,
                    image_id=image_id,
                    model=rendered.model,
                    quality=job.quality.value,
                )
                await record(uow, self.ids, (event,))
            await _settled(uow, claim)
        return JobStatus.SUCCEEDED

    async def _fail(
        self, job: ImageJob, code: FailureCode, message: str, claim: JobClaim | None
    ) -> JobStatus:
        async with self.uow() as uow:
            current = await uow.images.get_for_update(job.id)
            status = current.status  # settled by another attempt, unless still in flight
            if status.in_flight:
                await _give_up(uow, self, current, code, message)
                status = JobStatus.FAILED
            await _settled(uow, claim)
        return status


async def _settled(uow: UnitOfWork, claim: JobClaim | None) -> None:
    """Complete the worker's claim (if any) and commit the open unit of work."""
    if claim is not None:
        await uow.jobs.complete(claim)
    await uow.commit()


async def _give_up(
    uow: UnitOfWork,
    use_case: RunImageJob | FailImageJob,
    job: ImageJob,
    code: FailureCode,
    message: str,
) -> None:
    """Fail the job, refund its charge and record the event, in the open unit of work."""
    at = use_case.clock.now()
    await uow.images.save(job.fail(JobError(code, message), at=at))
    if job.cost:
        await refund_in(
            uow, job.charge_key, at=at, reason=code.value, policy=use_case.policy, ids=use_case.ids
        )
    event = PersonaImageFailed(persona_id=job.persona_id, at=at, job_id=job.id, error_code=code)
    await record(uow, use_case.ids, (event,))


def _code_of(error: ProviderError) -> FailureCode:
    if isinstance(error, ProviderTimeoutError):
        return FailureCode.PROVIDER_TIMEOUT
    if isinstance(error, ContentRefusedError):
        return FailureCode.CONTENT_REFUSED
    if isinstance(error, ImageDownloadError):
        return FailureCode.DOWNLOAD_FAILED
    return FailureCode.PROVIDER_ERROR


@attrs.frozen
class FailImageJob:
    """The give-up path when the worker cannot run a job: fail it and refund (once)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy

    async def __call__(
        self, job_id: ImageJobId, message: str, code: FailureCode = FailureCode.PROVIDER_ERROR
    ) -> None:
        """Fail the job with `code` and refund it, unless it has ended already."""
        async with self.uow() as uow:
            job = await uow.images.get_for_update(job_id)
            if not job.status.in_flight:
                return
            await _give_up(uow, self, job, code, message[:300])
            await uow.commit()
