"""The PublicCatalog port: the read model of published personas (PRODUCT.md §5.4-5.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

import attrs

from mynth_core.errors import ValidationError
from mynth_core.ids import ImageId, PersonaId, VersionId
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.fields import PersonaData
from mynth_core.publishing.model import AgeBucket, Gender, NsfwRating, Tag, normalise_tag

QUERY_LIMIT: Final = 100
CATALOG_DEFAULT_LIMIT: Final = 24
CATALOG_MAX_LIMIT: Final = 60


@attrs.frozen(kw_only=True)
class CatalogQuery:
    """Filters of the public list: text, tags (all), excluded tags (none), gender, NSFW."""

    q: str | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    gender: Gender | None = None
    include_nsfw: bool = False

    @classmethod
    def parse(
        cls,
        *,
        q: str | None = None,
        tags: str | None = None,
        exclude_tags: str | None = None,
        gender: str | None = None,
        include_nsfw: bool = False,
    ) -> CatalogQuery:
        """Validate query parameters.

        Raises:
            ValidationError: `q` over 100 characters or an unknown gender.
        """
        if q is not None and len(q) > QUERY_LIMIT:
            raise ValidationError.single("q", f"is longer than {QUERY_LIMIT} characters")
        try:
            chosen = None if gender is None else Gender(gender)
        except ValueError:
            raise ValidationError.single("gender", "must be female, male or other") from None
        return cls(
            q=(q or "").strip() or None,
            tags=_tag_list(tags),
            exclude_tags=_tag_list(exclude_tags),
            gender=chosen,
            include_nsfw=include_nsfw,
        )

    @property
    def ratings(self) -> tuple[NsfwRating, ...]:
        return tuple(NsfwRating) if self.include_nsfw else (NsfwRating.SFW,)


def _tag_list(raw: str | None) -> tuple[str, ...]:
    names = (normalise_tag(part) for part in (raw or "").split(","))
    return tuple(dict.fromkeys(n for n in names if n))


@attrs.frozen(kw_only=True)
class PublicVersion:
    """The public version of a published persona."""

    id: VersionId
    version_number: int
    data: PersonaData


@attrs.frozen(kw_only=True)
class PublicPersona:
    """A published persona as everyone sees it: never its owner, drafts or publish errors."""

    id: PersonaId
    slug: str
    name: str
    headline: str
    nsfw_rating: NsfwRating
    gender: Gender
    age_bucket: AgeBucket
    tags: tuple[Tag, ...]
    profile_image_id: ImageId | None
    published_at: datetime
    public_version: PublicVersion | None = None  # only on the detail
    cloned_from_slug: str | None = None


class PublicCatalog(Protocol):
    """**Port**: published personas whose persona and owner are not deleted."""

    async def search(self, query: CatalogQuery, page: PageRequest) -> Page[PublicPersona]:
        """Newest `published_at` first (ties by id), keyset-paginated.

        Raises:
            ValidationError: the page cursor is not one this catalog made.
        """

    async def get_by_slug(self, slug: str) -> PublicPersona:
        """The persona with its public version; `NotFoundError` unless public."""
