"""Doubles of the image ports: jobs and images in memory, a recording queue, blobs, a generator."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import attrs

from mynth_core.errors import NotFoundError
from mynth_core.ids import ImageId, ImageJobId, PersonaId, UserId
from mynth_core.images.model import ImageJob, StoredImage
from mynth_core.images.ports import ImageRequest, JobClaim, QueuedJob, RenderedImage
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor


@attrs.define
class ImageStore:
    """What the image fakes persist (part of `InMemoryStore`)."""

    jobs: dict[ImageJobId, ImageJob] = attrs.field(factory=dict)
    images: dict[ImageId, StoredImage] = attrs.field(factory=dict)
    queue: list[QueuedJob] = attrs.field(factory=list)
    completed: list[JobClaim] = attrs.field(factory=list)

    def snapshot(self) -> ImageStore:
        return ImageStore(
            jobs=dict(self.jobs),
            images=dict(self.images),
            queue=list(self.queue),
            completed=list(self.completed),
        )


@attrs.define
class InMemoryImageJobRepository:
    """The ImageJobRepository contract over an `ImageStore`."""

    store: ImageStore

    async def add(self, job: ImageJob) -> None:
        self.store.jobs[job.id] = job

    async def get(self, job_id: ImageJobId, *, owner: UserId | None = None) -> ImageJob:
        job = self.store.jobs.get(job_id)
        if job is None or (owner is not None and job.owner_id != owner):
            raise NotFoundError("image job", job_id)
        return job

    async def get_for_update(self, job_id: ImageJobId) -> ImageJob:
        return await self.get(job_id)

    async def save(self, job: ImageJob) -> None:
        self.store.jobs[job.id] = job

    async def count_in_flight(self, owner: UserId) -> int:
        return sum(
            1 for j in self.store.jobs.values() if j.owner_id == owner and j.status.in_flight
        )

    async def add_image(self, image: StoredImage) -> None:
        self.store.images[image.id] = image

    async def image(self, image_id: ImageId) -> StoredImage:
        image = self.store.images.get(image_id)
        if image is None:
            raise NotFoundError("image", image_id)
        return image

    async def images_of(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredImage]:
        mine = [i for i in self.store.images.values() if i.persona_id == persona_id]
        mine.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        if page.cursor is not None:
            at, last_id = decode_cursor(page.cursor, 2)
            mine = [i for i in mine if (i.created_at.isoformat(), i.id) < (at, last_id)]
        items = tuple(mine[: page.limit])
        more = len(mine) > page.limit
        cursor = encode_cursor(items[-1].created_at.isoformat(), items[-1].id) if more else None
        return Page(items, cursor)


@attrs.define
class RecordingJobQueue:
    """`JobQueue` that keeps what was enqueued and completed (only if the unit commits)."""

    store: ImageStore

    async def enqueue(self, job: QueuedJob) -> None:
        self.store.queue.append(job)

    async def complete(self, claim: JobClaim) -> bool:
        """Records `claim` (kept only if the unit commits); a claim completes once."""
        if claim in self.store.completed:
            return False
        self.store.completed.append(claim)
        return True


@attrs.define
class InMemoryBlobStore:
    """`BlobStore` in a dictionary."""

    blobs: dict[str, tuple[bytes, str]] = attrs.field(factory=dict)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self.blobs[key] = (data, content_type)

    async def get(self, key: str) -> bytes | None:
        found = self.blobs.get(key)
        return None if found is None else found[0]

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


@attrs.define
class ScriptedImageGenerator:
    """`ImageGenerator` answering from a FIFO of images or errors, then a default image."""

    outcomes: deque[RenderedImage | BaseException] = attrs.field(factory=deque)
    requests: list[ImageRequest] = attrs.field(factory=list)

    def script(self, *outcomes: RenderedImage | BaseException) -> None:
        self.outcomes.extend(outcomes)

    async def generate(self, request: ImageRequest) -> RenderedImage:
        self.requests.append(request)
        outcome = self.outcomes.popleft() if self.outcomes else None
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome or RenderedImage(
            webp=b"RIFF-fake-webp",
            thumbnail=b"RIFF-fake-thumb",
            width=request.width,
            height=request.height,
            model=request.model.id,
        )


if TYPE_CHECKING:
    from mynth_core.images.ports import BlobStore, ImageGenerator, ImageJobRepository, JobQueue

    _jobs: type[ImageJobRepository] = InMemoryImageJobRepository
    _queue: type[JobQueue] = RecordingJobQueue
    _blobs: type[BlobStore] = InMemoryBlobStore
    _generator: type[ImageGenerator] = ScriptedImageGenerator
