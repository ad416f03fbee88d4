"""Image ports: the generator, the blob store, image jobs, and the durable job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from mynth_core.ids import ImageId, ImageJobId, JobId, PersonaId, UserId
from mynth_core.images.model import ImageJob, StoredImage
from mynth_core.images.registry import ImageModel
from mynth_core.pagination import Page, PageRequest


@attrs.frozen(kw_only=True)
class ImageRequest:
    """One image to generate: a registered model, a prompt, a size."""

    model: ImageModel
    prompt: str
    width: int
    height: int
    task_uuid: str
    nsfw: bool = False


@attrs.frozen(kw_only=True)
class RenderedImage:
    """A generated image, encoded: WebP at its size and a 240x240 WebP thumbnail.

    `model` is the unified id that made it (`offline/image` for the offline renderer).
    """

    webp: bytes
    thumbnail: bytes
    width: int
    height: int
    model: str
    cost_usd: float | None = None


class ImageGenerator(Protocol):
    """**Port**: one image for a registry model, downloaded and encoded.

    Raises core errors: `ProviderTimeoutError`, `ProviderRateLimitedError`,
    `ProviderUnavailableError`, `ContentRefusedError`, `ProviderRejectedError`,
    `ProviderMisconfiguredError`, `ProviderBadResponseError`, `ImageDownloadError`.
    """

    async def generate(self, request: ImageRequest) -> RenderedImage: ...


def image_key(image_id: ImageId, *, thumbnail: bool = False) -> str:
    """The blob key of an image's bytes."""
    return f"images/{image_id}{'.thumb' if thumbnail else ''}.webp"


class BlobStore(Protocol):
    """**Port**: image bytes by key (a local directory now, an object store later)."""

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store `data` under `key`, atomically (a reader never sees half a blob)."""

    async def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None."""

    async def delete(self, key: str) -> None: ...


class ImageJobRepository(Protocol):
    """**Port**: image jobs and the images they produced."""

    async def add(self, job: ImageJob) -> None: ...

    async def get(self, job_id: ImageJobId, *, owner: UserId | None = None) -> ImageJob:
        """`NotFoundError` for a missing job or (with `owner`) someone else's."""

    async def get_for_update(self, job_id: ImageJobId) -> ImageJob:
        """The job, locked until the unit of work ends."""

    async def save(self, job: ImageJob) -> None: ...

    async def count_in_flight(self, owner: UserId) -> int:
        """How many of the owner's jobs are `queued` or `running`."""

    async def add_image(self, image: StoredImage) -> None: ...

    async def image(self, image_id: ImageId) -> StoredImage:
        """`NotFoundError` for a missing image."""

    async def images_of(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredImage]:
        """A persona's images, newest first.

        Raises:
            ValidationError: the page cursor is not one this repository made.
        """


@attrs.frozen(kw_only=True)
class QueuedJob:
    """A unit of background work: `kind` names the handler, `ref` its subject."""

    id: JobId
    kind: str
    ref: str
    run_after: datetime | None = None


@attrs.frozen
class JobClaim:
    """A worker's hold on a queued job: its `attempt`-th claim, by `worker_id`.

    A handler given a claim settles it in the transaction that records the job's outcome,
    so the outcome and the queue's record of it commit together.
    """

    job_id: JobId
    worker_id: str
    attempt: int


class JobQueue(Protocol):
    """**Port**: durable background work, enqueued inside the open unit of work.

    If the unit of work commits, the job exists and will run (at least once, so handlers
    are idempotent by `ref`); if it rolls back, it never did.
    """

    async def enqueue(self, job: QueuedJob) -> None: ...

    async def complete(self, claim: JobClaim) -> bool:
        """Mark the claimed job done when this unit of work commits.

        False (and nothing changes) when the claim no longer holds the job: its lease
        expired and another worker claimed it, or it was settled already.
        """
