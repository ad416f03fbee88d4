"""`InMemoryPublicCatalog`: the public catalog computed from the fake store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from mynth_core.errors import NotFoundError
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor
from mynth_core.personas.model import Persona
from mynth_core.publishing.ports import CatalogQuery, PublicPersona, PublicVersion

if TYPE_CHECKING:
    from mynth_core.testing.fakes import InMemoryStore  # noqa: TC004 - attrs keeps it a string


@attrs.define
class InMemoryPublicCatalog:
    """The PublicCatalog contract over the fake store's personas, versions and users."""

    store: InMemoryStore

    async def search(self, query: CatalogQuery, page: PageRequest) -> Page[PublicPersona]:
        found = [c for p in self._public() if _matches(c := self._card(p), query)]
        found.sort(key=lambda c: (c.published_at, c.id), reverse=True)
        if page.cursor is not None:
            at, last_id = decode_cursor(page.cursor, 2)
            found = [c for c in found if (c.published_at.isoformat(), c.id) < (at, last_id)]
        items = tuple(found[: page.limit])
        more = len(found) > page.limit
        cursor = encode_cursor(items[-1].published_at.isoformat(), items[-1].id) if more else None
        return Page(items, cursor)

    async def get_by_slug(self, slug: str) -> PublicPersona:
        for persona in self._public():
            if persona.publication.slug == slug:
                version = self.store.versions[persona.public_version_id]  # type: ignore[index]
                source = persona.cloned_from
                source_slug = None
                if source is not None and (origin := self.store.personas.get(source.persona_id)):
                    source_slug = origin.publication.slug if origin.is_public else None
                return attrs.evolve(
                    self._card(persona),
                    public_version=PublicVersion(
                        id=version.id, version_number=version.version_number, data=version.data
                    ),
                    cloned_from_slug=source_slug,
                )
        raise NotFoundError("public persona", slug)

    def _public(self) -> list[Persona]:
        users = self.store.users
        return [
            p
            for p in self.store.personas.values()
            if p.is_public
            and p.publication.classification is not None
            and p.publication.published_at is not None
            and (p.owner_id not in users or users[p.owner_id].deleted_at is None)
        ]

    @staticmethod
    def _card(persona: Persona) -> PublicPersona:
        publication = persona.publication
        classification = publication.classification
        assert classification is not None  # noqa: S101 - filtered by _public
        assert publication.published_at is not None  # noqa: S101
        return PublicPersona(
            id=persona.id,
            slug=publication.slug or "",
            name=publication.public_name or "",
            headline=classification.headline,
            nsfw_rating=classification.nsfw_rating,
            gender=classification.gender,
            age_bucket=classification.age_bucket,
            tags=classification.tags,
            profile_image_id=persona.profile_image_id,
            published_at=publication.published_at,
        )


def _matches(card: PublicPersona, query: CatalogQuery) -> bool:
    names = {t.name for t in card.tags}
    if card.nsfw_rating not in query.ratings:
        return False
    if query.gender is not None and card.gender is not query.gender:
        return False
    if not set(query.tags) <= names or set(query.exclude_tags) & names:
        return False
    if query.q:
        needle = query.q.casefold()
        texts = [card.name, card.headline, *names]
        return any(needle in text.casefold() for text in texts)
    return True


if TYPE_CHECKING:
    from mynth_core.publishing.ports import PublicCatalog

    _conforms: type[PublicCatalog] = InMemoryPublicCatalog
