"""Image routes (API.md "Images"): request a job, poll it, list, read, serve the bytes."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from mynth_core.identity import Principal
from mynth_core.ids import ImageId, ImageJobId, PersonaId
from mynth_core.images.reads import (
    GetImage,
    GetImageJob,
    ListImages,
    ReadImageContent,
    SetProfileImage,
)
from mynth_core.images.registry import ImageRegistry
from mynth_core.images.services import RequestImage
from mynth_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from mynth_core.pricing import PriceTable
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.schemas.images import (
    ImageJobOut,
    ImageModelsOut,
    ImageOut,
    ImagePageOut,
    ImageRequestIn,
    ProfileImageIn,
)
from mynth_http.schemas.personas import PersonaOut

Id = FromPath[str]
Limit = Annotated[
    int | None, QueryParameter(ge=1, le=MAX_LIMIT, description=f"default {DEFAULT_LIMIT}")
]
Cursor = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")]
READ = problem_responses(400, 401, 404, 422)
REQUEST = problem_responses(400, 401, 402, 404, 413, 415, 422, 429)
WEBP: Final = "image/webp"
# An image's bytes never change: cache them for a year; only a public profile image may be
# kept by shared caches.
FOREVER: Final = "max-age=31536000, immutable"


class ImageModelsController(Controller):
    """`/v1/image-models`: the tiers and the models that can be chosen."""

    path = "/v1/image-models"
    tags = ["images"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", operation_id="ListImageModels", summary="List image tiers and models")
    async def list_image_models(
        self, image_registry: Injected[ImageRegistry], price_table: Injected[PriceTable]
    ) -> ImageModelsOut:
        return ImageModelsOut.of(image_registry, price_table)


class PersonaImagesController(Controller):
    """`/v1/personas/{id}/images` and the profile image: the owner's gallery."""

    path = "/v1/personas"
    tags = ["images"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/{persona_id:str}/images",
        operation_id="RequestPersonaImage",
        responses=REQUEST,
        summary="Generate an image (202: a queued job; tokens are charged now)",
        status_code=202,
    )
    async def request_image(
        self,
        principal: Injected[Principal],
        persona_id: Id,
        data: JSONBody[ImageRequestIn],
        request_image: Injected[RequestImage],
    ) -> ImageJobOut:
        job = await request_image(principal, PersonaId(persona_id), data.to_options())
        return ImageJobOut.of(job)

    @get(
        "/{persona_id:str}/images",
        operation_id="ListPersonaImages",
        responses=READ,
        summary="The persona's images, newest first",
    )
    async def list_images(
        self,
        principal: Injected[Principal],
        persona_id: Id,
        list_images: Injected[ListImages],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> ImagePageOut:
        page = await list_images(principal, PersonaId(persona_id), PageRequest.parse(limit, cursor))
        return ImagePageOut.of(page)

    @put(
        "/{persona_id:str}/profile-image",
        operation_id="SetProfileImage",
        responses=problem_responses(400, 401, 404, 413, 415, 422),
        summary="Show one of the persona's images as its profile image",
    )
    async def set_profile_image(
        self,
        principal: Injected[Principal],
        persona_id: Id,
        data: JSONBody[ProfileImageIn],
        set_profile_image: Injected[SetProfileImage],
    ) -> PersonaOut:
        persona = await set_profile_image(principal, PersonaId(persona_id), ImageId(data.image_id))
        return PersonaOut.of(persona)


class ImageJobController(Controller):
    """`/v1/image-jobs/{id}`: poll a job."""

    path = "/v1/image-jobs"
    tags = ["images"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/{job_id:str}", operation_id="GetImageJob", responses=READ, summary="Get an image job")
    async def get_image_job(
        self, principal: Injected[Principal], job_id: Id, get_image_job: Injected[GetImageJob]
    ) -> ImageJobOut:
        job, image = await get_image_job(principal, ImageJobId(job_id))
        return ImageJobOut.of(job, image)


class ImageController(Controller):
    """`/v1/images/{id}`: the owner's images, and public personas' profile images for anyone."""

    path = "/v1/images"
    tags = ["images"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/{image_id:str}", operation_id="GetImage", responses=READ, summary="Get an image")
    async def get_image(
        self, principal: Injected[Principal | None], image_id: Id, get_image: Injected[GetImage]
    ) -> ImageOut:
        return ImageOut.of(await get_image(principal, ImageId(image_id)))

    @get(
        "/{image_id:str}/content",
        operation_id="GetImageContent",
        responses=READ,
        summary="The image's WebP bytes (`?variant=thumb`: the 240x240 thumbnail)",
        media_type=WEBP,
    )
    async def get_image_content(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal | None],
        image_id: Id,
        read_image_content: Injected[ReadImageContent],
        variant: Annotated[
            Literal["full", "thumb"] | None, QueryParameter(description="`thumb` for 240x240")
        ] = None,
    ) -> Response[bytes]:
        thumbnail = variant == "thumb"
        data = await read_image_content(principal, ImageId(image_id), thumbnail=thumbnail)
        etag = f'"{image_id}{"-thumb" if thumbnail else ""}"'
        scope = "public" if principal is None else "private"
        headers = {"ETag": etag, "Cache-Control": f"{scope}, {FOREVER}", "Vary": "Authorization"}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers, media_type=WEBP)
        return Response(data, media_type=WEBP, headers=headers)
