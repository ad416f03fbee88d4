"""Image reads: a job, the gallery, one image and its bytes, and the profile image."""

from __future__ import annotations

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import NotFoundError
from mynth_core.identity import Principal
from mynth_core.ids import ImageId, ImageJobId, PersonaId
from mynth_core.images.model import ImageJob, StoredImage
from mynth_core.images.ports import BlobStore, image_key
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.model import Persona
from mynth_core.uow import UnitOfWorkFactory


@attrs.frozen
class GetImageJob:
    """One of the caller's image jobs."""

    uow: UnitOfWorkFactory

    async def __call__(
        self, who: Principal, job_id: ImageJobId
    ) -> tuple[ImageJob, StoredImage | None]:
        async with self.uow(read_only=True) as uow:
            job = await uow.images.get(job_id, owner=who.user_id)
            image = await uow.images.image(job.image_id) if job.image_id else None
        return job, image


@attrs.frozen
class ListImages:
    """A persona's images, newest first (owner only)."""

    uow: UnitOfWorkFactory

    async def __call__(
        self, who: Principal, persona_id: PersonaId, page: PageRequest
    ) -> Page[StoredImage]:
        async with self.uow(read_only=True) as uow:
            await uow.personas.get(persona_id, owner=who.user_id)
            return await uow.images.images_of(persona_id, page)


@attrs.frozen
class GetImage:
    """An image: its owner's, or anyone's when it is a public persona's profile image."""

    uow: UnitOfWorkFactory

    async def __call__(self, who: Principal | None, image_id: ImageId) -> StoredImage:
        """Raises: NotFoundError (also for an image the caller may not see)."""
        async with self.uow(read_only=True) as uow:
            image = await uow.images.image(image_id)
            if who is not None and image.owner_id == who.user_id:
                return image
            try:
                persona = await uow.personas.get(image.persona_id)
            except NotFoundError:
                persona = None
        if persona is not None and persona.is_public and persona.profile_image_id == image_id:
            return image
        raise NotFoundError("image", image_id)


@attrs.frozen
class ReadImageContent:
    """An image's bytes (or its thumbnail's), under `GetImage`'s access rule."""

    get_image: GetImage
    blobs: BlobStore

    async def __call__(
        self, who: Principal | None, image_id: ImageId, *, thumbnail: bool = False
    ) -> bytes:
        image = await self.get_image(who, image_id)
        data = await self.blobs.get(image_key(image.id, thumbnail=thumbnail))
        if data is None:
            raise NotFoundError("image", image_id)
        return data


@attrs.frozen
class SetProfileImage:
    """Show one of the persona's images as its profile image."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, persona_id: PersonaId, image_id: ImageId) -> Persona:
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            image = await uow.images.image(image_id)
            if image.persona_id != persona_id:
                raise NotFoundError("image", image_id)
            persona = persona.show_image(image_id, at=self.clock.now())
            await uow.personas.save(persona)
            await uow.commit()
        return persona
