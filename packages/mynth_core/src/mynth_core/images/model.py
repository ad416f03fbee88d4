"""The ImageJob state machine and stored images (PRODUCT.md §7.4-7.5).

`queued → running → succeeded | failed`, never back, except that a job whose worker died
while `running` is put back to `queued` once (§7.4 step 5). Tokens are charged when the job
is created and refunded exactly once if it fails.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from mynth_core.ids import ImageId, ImageJobId, PersonaId, UserId, VersionId
from mynth_core.images.registry import ImageOptions
from mynth_core.pricing import ImageTier


class JobStatus(enum.StrEnum):
    """Where an image job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def in_flight(self) -> bool:
        return self in {JobStatus.QUEUED, JobStatus.RUNNING}


class FailureCode(enum.StrEnum):
    """Why an image job failed (§12)."""

    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_ERROR = "provider_error"
    CONTENT_REFUSED = "content_refused"
    DOWNLOAD_FAILED = "download_failed"
    WORKER_DIED = "worker_died"
    PERSONA_DELETED = "persona_deleted"


@attrs.frozen
class JobError:
    """A failed job's error."""

    code: FailureCode
    message: str


@attrs.frozen(kw_only=True)
class StoredImage:
    """A generated image; its bytes (WebP and a 240x240 thumbnail) live in the blob store."""

    id: ImageId
    owner_id: UserId
    persona_id: PersonaId
    job_id: ImageJobId
    width: int
    height: int
    model: str
    nsfw: bool
    prompt: str
    created_at: datetime


@attrs.frozen(kw_only=True)
class ImageJob:
    """One image generation for a persona version, charged up front."""

    id: ImageJobId
    owner_id: UserId
    persona_id: PersonaId
    persona_version_id: VersionId
    quality: ImageTier
    model: str
    options: ImageOptions
    status: JobStatus = JobStatus.QUEUED
    cost: int
    charge_key: str
    task_uuid: str
    attempts: int = 0
    error: JobError | None = None
    image_id: ImageId | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def start(self, *, at: datetime) -> ImageJob:
        """`queued → running` (a new attempt)."""
        if self.status is not JobStatus.QUEUED:
            msg = f"job {self.id} is {self.status}, not queued"
            raise AssertionError(msg)
        return attrs.evolve(
            self, status=JobStatus.RUNNING, attempts=self.attempts + 1, started_at=at
        )

    def succeed(self, image: ImageId, *, at: datetime) -> ImageJob:
        """`running → succeeded` with its image."""
        if self.status is not JobStatus.RUNNING:
            msg = f"job {self.id} is {self.status}, not running"
            raise AssertionError(msg)
        return attrs.evolve(self, status=JobStatus.SUCCEEDED, image_id=image, finished_at=at)

    def fail(self, error: JobError, *, at: datetime) -> ImageJob:
        """`queued | running → failed` (the charge is refunded by the caller)."""
        if not self.status.in_flight:
            msg = f"job {self.id} has already ended ({self.status})"
            raise AssertionError(msg)
        return attrs.evolve(self, status=JobStatus.FAILED, error=error, finished_at=at)

    def requeue(self) -> ImageJob:
        """A stalled `running` job goes back to `queued` (its worker died)."""
        if self.status is not JobStatus.RUNNING:
            msg = f"job {self.id} is {self.status}, not running"
            raise AssertionError(msg)
        return attrs.evolve(self, status=JobStatus.QUEUED)
