"""Image shapes (API.md "Images")."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from mynth_core.ids import ImageId
from mynth_core.images.model import ImageJob, StoredImage
from mynth_core.images.registry import NOTE_LIMIT, ImageOptions, ImageRegistry, Shot, Style
from mynth_core.pagination import Page
from mynth_core.pricing import ImageTier, PriceTable
from mynth_http.schemas.common import Timestamp, documented, rfc3339

Quality = Literal["low", "medium", "high"]


def content_url(image_id: ImageId, *, thumbnail: bool = False) -> str:
    """Where an image's bytes are served (relative to the API's origin)."""
    return f"/v1/images/{image_id}/content" + ("?variant=thumb" if thumbnail else "")


class ImageRequestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to generate; the low tier ignores style, shot and note and is never NSFW."""

    quality: Quality = "medium"
    model: Annotated[str | None, documented("a unified image model id; overrides quality")] = None
    style: Literal["auto", "realistic", "anime", "cinematic"] = "auto"
    shot: Literal["portrait", "full_body"] = "full_body"
    nsfw: bool = False
    note: Annotated[str | None, documented(maxLength=NOTE_LIMIT)] = None

    def to_options(self) -> ImageOptions:
        return ImageOptions(
            quality=ImageTier(self.quality),
            model=self.model,
            style=Style(self.style),
            shot=Shot(self.shot),
            nsfw=self.nsfw,
            note=self.note,
        )


class ImageOut(msgspec.Struct, kw_only=True):
    """A generated image."""

    id: str
    persona_id: str
    model: str
    width: int
    height: int
    nsfw: bool
    url: str
    thumbnail_url: str
    created_at: Timestamp

    @classmethod
    def of(cls, image: StoredImage) -> ImageOut:
        return cls(
            id=image.id,
            persona_id=image.persona_id,
            model=image.model,
            width=image.width,
            height=image.height,
            nsfw=image.nsfw,
            url=content_url(image.id),
            thumbnail_url=content_url(image.id, thumbnail=True),
            created_at=rfc3339(image.created_at),
        )


class ImageDetailOut(ImageOut, kw_only=True):
    """An image with how it was made (owner only)."""

    prompt: str | None = None


class JobErrorOut(msgspec.Struct, kw_only=True):
    """Why an image job failed."""

    code: str
    message: str


class ImageJobOut(msgspec.Struct, kw_only=True):
    """An image job; poll it until `succeeded` or `failed`."""

    id: str
    persona_id: str
    persona_version_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    quality: Quality
    model: str
    cost: int
    image: ImageOut | None
    error: JobErrorOut | None
    attempts: int
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, job: ImageJob, image: StoredImage | None = None) -> ImageJobOut:
        error = job.error
        return cls(
            id=job.id,
            persona_id=job.persona_id,
            persona_version_id=job.persona_version_id,
            status=job.status.value,
            quality=job.quality.value,
            model=job.model,
            cost=job.cost,
            image=None if image is None else ImageOut.of(image),
            error=None
            if error is None
            else JobErrorOut(code=error.code.value, message=error.message),
            attempts=job.attempts,
            created_at=rfc3339(job.created_at),
            started_at=None if job.started_at is None else rfc3339(job.started_at),
            finished_at=None if job.finished_at is None else rfc3339(job.finished_at),
        )


class ImagePageOut(msgspec.Struct, kw_only=True):
    """A persona's images, newest first."""

    items: list[ImageOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[StoredImage]) -> ImagePageOut:
        return cls(items=[ImageOut.of(i) for i in page.items], next_cursor=page.next_cursor)


class TierOut(msgspec.Struct, kw_only=True):
    """The model a tier uses, its cost and its size."""

    model: str
    cost: int
    width: int
    height: int


class ImageModelOut(msgspec.Struct, kw_only=True):
    """One image model users can pick explicitly."""

    id: str
    display_name: str
    provider: str
    cost: int
    nsfw_capable: bool


class ImageModelsOut(msgspec.Struct, kw_only=True):
    """`GET /v1/image-models`."""

    tiers: dict[str, TierOut]
    models: list[ImageModelOut]

    @classmethod
    def of(cls, registry: ImageRegistry, prices: PriceTable) -> ImageModelsOut:
        tiers = {}
        for tier, model_id in registry.tiers:
            model = registry.get(model_id)
            tiers[tier.value] = TierOut(
                model=model.id,
                cost=prices.image_cost(tier).value,
                width=model.width,
                height=model.height,
            )
        models = [
            ImageModelOut(
                id=m.id,
                display_name=m.display_name,
                provider=m.provider,
                cost=prices.image_cost(ImageTier.MEDIUM, m.id).value,
                nsfw_capable=m.nsfw_capable,
            )
            for m in registry.models
            if m.usable
        ]
        return cls(tiers=tiers, models=models)


class ProfileImageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which of the persona's images to show as its profile image."""

    image_id: str
