"""Publishing shapes (API.md "Personas" publication routes and "Public catalog").

The public shapes are explicit allow-lists (PRODUCT.md §5.5): a public persona never shows
its owner, its other versions, version metadata, or its publish state and errors.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from mynth_core.ids import VersionId
from mynth_core.pagination import Page
from mynth_core.publishing.ports import PublicPersona, PublicVersion
from mynth_http.schemas.common import Timestamp, documented, rfc3339
from mynth_http.schemas.images import content_url
from mynth_http.schemas.personas import (
    AgeBucketName,
    GenderName,
    PersonaDataOut,
    RatingName,
    TagOut,
)


class PublishIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which version to publish; the body may be left out."""

    version_id: Annotated[
        str | None, documented("a version of this persona; default: the current version")
    ] = None

    def chosen(self) -> VersionId | None:
        return None if self.version_id is None else VersionId(self.version_id)


class PublicImageOut(msgspec.Struct, kw_only=True):
    """A public persona's profile image (its bytes are public too)."""

    url: str
    thumbnail_url: str


class PublicCardOut(msgspec.Struct, kw_only=True):
    """A published persona as the catalog lists it."""

    id: str
    slug: str
    name: str
    headline: str
    nsfw_rating: RatingName
    gender: GenderName
    age_bucket: AgeBucketName
    tags: list[TagOut]
    profile_image: PublicImageOut | None
    published_at: Timestamp

    @classmethod
    def of(cls, persona: PublicPersona) -> PublicCardOut:
        image = persona.profile_image_id
        return cls(
            id=persona.id,
            slug=persona.slug,
            name=persona.name,
            headline=persona.headline,
            nsfw_rating=persona.nsfw_rating.value,
            gender=persona.gender.value,
            age_bucket=persona.age_bucket.value,
            tags=[TagOut.of(t) for t in persona.tags],
            profile_image=None
            if image is None
            else PublicImageOut(
                url=content_url(image), thumbnail_url=content_url(image, thumbnail=True)
            ),
            published_at=rfc3339(persona.published_at),
        )


class PublicVersionOut(msgspec.Struct, kw_only=True):
    """The public version of a published persona: its number and data, nothing else."""

    id: str
    version_number: int
    data: PersonaDataOut

    @classmethod
    def of(cls, version: PublicVersion) -> PublicVersionOut:
        return cls(
            id=version.id,
            version_number=version.version_number,
            data=PersonaDataOut.of(version.data),
        )


class PublicPersonaOut(PublicCardOut, kw_only=True):
    """A published persona: the card, its public version and the slug it was cloned from."""

    public_version: PublicVersionOut
    cloned_from_slug: str | None

    @classmethod
    def of(cls, persona: PublicPersona) -> PublicPersonaOut:
        if persona.public_version is None:  # pragma: no cover - get_by_slug always sets it
            msg = "a public persona's detail needs its public version"
            raise ValueError(msg)
        return cls(
            **msgspec.structs.asdict(PublicCardOut.of(persona)),
            public_version=PublicVersionOut.of(persona.public_version),
            cloned_from_slug=persona.cloned_from_slug,
        )


class PublicCatalogPageOut(msgspec.Struct, kw_only=True):
    """A page of the public catalog, newest first."""

    items: list[PublicCardOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[PublicPersona]) -> PublicCatalogPageOut:
        return cls(items=[PublicCardOut.of(p) for p in page.items], next_cursor=page.next_cursor)
