"""SqlPublicCatalog: the public catalog read from `personas`, `persona_tags` and `tags`.

The list walks `ix_personas_published_at_id` (partial: public personas only) backwards from
the keyset cursor, a row comparison `(published_at, id) < (:at, :id)` that Postgres uses as
the index condition, so a later page costs what the first one does. Each filter is a
condition on the persona row or a correlated (NOT) EXISTS the planner turns into a semi- or
anti-join: a primary-key probe of `persona_tags` (persona_id, tag_id) per required or
excluded tag, and one of `users` for the owner.

Tag names are resolved to ids first (an unknown required tag is an empty page without
more work), and a required tag's id is written into the statement as a constant: Postgres
then plans with that tag's own frequency (its statistics' most common values) instead of an
average. A common tag walks the published_at index and probes each persona's tags; a rare
one starts from `ix_persona_tags_tag_id_persona_id` and sorts its few personas, instead of
walking the index through thousands of personas without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs
from cattrs.preconf.json import JsonConverter
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    Text,
    and_,
    exists,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.converters import persistence_converter
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.personas import Tags, _decode_persona_cursor, tags_of
from mynth_adapters.sql.tables import (
    UtcDateTime,
    persona_tags,
    persona_versions,
    personas,
    tags,
    users,
)
from mynth_core.errors import NotFoundError
from mynth_core.ids import ImageId, PersonaId, VersionId
from mynth_core.pagination import Page, PageRequest, encode_cursor
from mynth_core.personas.fields import PersonaData
from mynth_core.publishing.model import AgeBucket, Gender, NsfwRating
from mynth_core.publishing.ports import CatalogQuery, PublicPersona, PublicVersion

if TYPE_CHECKING:
    from mynth_core.publishing.ports import PublicCatalog

_CARD: Final = (
    personas.c.id,
    personas.c.slug,
    personas.c.public_name,
    personas.c.headline,
    personas.c.nsfw_rating,
    personas.c.gender,
    personas.c.age_bucket,
    personas.c.profile_image_id,
    personas.c.published_at,
)
_SOURCE: Final = personas.alias("source")


@attrs.frozen
class SqlPublicCatalog:
    """Published personas whose persona and owner are not deleted (owners never shown)."""

    conn: AsyncConnection
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)

    async def search(self, query: CatalogQuery, page: PageRequest) -> Page[PublicPersona]:
        after = None if page.cursor is None else _decode_persona_cursor(page.cursor)
        with translate_db_errors():
            known = await tag_ids(self.conn, (*query.tags, *query.exclude_tags))
            if any(name not in known for name in query.tags):
                return Page(())
            stmt = list_query(query, limit=page.limit + 1, after=after, tag_ids=known)
            rows = (await self.conn.execute(stmt)).mappings().all()
            chosen = rows[: page.limit]
            linked = await tags_of(self.conn, (row["id"] for row in chosen))
        items = tuple(_card(row, linked.get(row["id"], ())) for row in chosen)
        last = items[-1] if len(rows) > page.limit else None
        cursor = encode_cursor(last.published_at.isoformat(), last.id) if last else None
        return Page(items, cursor)

    async def get_by_slug(self, slug: str) -> PublicPersona:
        version = persona_versions
        source = _SOURCE
        origin_public = and_(
            source.c.id == personas.c.cloned_from_persona_id,
            source.c.public_version_id.is_not(None),
            source.c.deleted_at.is_(None),
        )
        stmt = (
            select(
                *_CARD,
                version.c.id.label("v_id"),
                version.c.version_number.label("v_version_number"),
                version.c.data.label("v_data"),
                source.c.slug.label("source_slug"),
            )
            .select_from(
                personas.join(version, version.c.id == personas.c.public_version_id).outerjoin(
                    source, origin_public
                )
            )
            .where(personas.c.slug == slug, *_public(), personas.c.headline.is_not(None))
        )
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
            if row is None:
                raise NotFoundError("public persona", slug)
            linked = await tags_of(self.conn, [row["id"]])
        return attrs.evolve(
            _card(row, linked.get(row["id"], ())),
            public_version=PublicVersion(
                id=VersionId(row["v_id"]),
                version_number=row["v_version_number"],
                data=self.converter.structure(row["v_data"], PersonaData),
            ),
            cloned_from_slug=row["source_slug"],
        )


async def tag_ids(conn: AsyncConnection, names: Sequence[str]) -> dict[str, int]:
    """The ids of those of `names` that are tags (no query for none)."""
    if not names:
        return {}
    found = await conn.execute(select(tags.c.name, tags.c.id).where(tags.c.name.in_(names)))
    return dict(found.all())


def list_query(
    query: CatalogQuery,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    tag_ids: Mapping[str, int] | None = None,
) -> Select[Any]:
    """The catalog list: `limit` cards matching `query`, newest first.

    `after` is the cursor's (published_at, id); `tag_ids` must hold every required tag of
    `query` (an excluded tag without an id matches nothing anyway). The bench EXPLAINs this
    very statement.
    """
    known = tag_ids or {}
    stmt = select(*_CARD).where(*_public(), personas.c.nsfw_rating.in_(query.ratings))
    if query.gender is not None:
        stmt = stmt.where(personas.c.gender == str(query.gender))
    for name in query.tags:  # a constant, planned with its own statistics
        tag_id = literal(known[name], BigInteger, literal_execute=True)
        stmt = stmt.where(_linked(persona_tags.c.tag_id == tag_id))
    excluded = [known[name] for name in query.exclude_tags if name in known]
    if excluded:
        stmt = stmt.where(~_linked(persona_tags.c.tag_id.in_(excluded)))
    if query.q:
        stmt = stmt.where(_mentions(query.q))
    if after is not None:
        at, last_id = after
        key = tuple_(personas.c.published_at, personas.c.id)
        stmt = stmt.where(key < tuple_(literal(at, UtcDateTime), literal(last_id, Text)))
    # A constant LIMIT, so a cached generic plan still knows how few rows it stops after.
    stmt = stmt.order_by(personas.c.published_at.desc(), personas.c.id.desc())
    return stmt.limit(literal(limit, Integer, literal_execute=True))


def _public() -> list[ColumnElement[bool]]:
    """In the catalog: the partial index's predicate, published, the owner not deleted.

    A persona whose owner has no user row is listed, as the fake does.
    """
    owner_gone = exists().where(users.c.id == personas.c.owner_id, users.c.deleted_at.is_not(None))
    return [
        personas.c.public_version_id.is_not(None),
        personas.c.deleted_at.is_(None),
        personas.c.published_at.is_not(None),
        ~owner_gone,
    ]


def _linked(tag: ColumnElement[bool]) -> ColumnElement[bool]:
    """The persona has a tag matching `tag` (a condition on `persona_tags.tag_id`)."""
    return exists().where(persona_tags.c.persona_id == personas.c.id, tag)


def _mentions(text: str) -> ColumnElement[bool]:
    """`text` in the public name, the headline or a tag name, in any case.

    ILIKE on Postgres, lower() LIKE on SQLite; `%` and `_` match only themselves.
    """
    needle = text.lower()
    in_tag = exists().where(
        persona_tags.c.persona_id == personas.c.id,
        tags.c.id == persona_tags.c.tag_id,
        tags.c.name.icontains(needle, autoescape=True),
    )
    return or_(
        personas.c.public_name.icontains(needle, autoescape=True),
        personas.c.headline.icontains(needle, autoescape=True),
        in_tag,
    )


def _card(row: RowMapping, linked: Tags) -> PublicPersona:
    return PublicPersona(
        id=PersonaId(row["id"]),
        slug=row["slug"] or "",
        name=row["public_name"] or "",
        headline=row["headline"],
        nsfw_rating=NsfwRating(row["nsfw_rating"]),
        gender=Gender(row["gender"]),
        age_bucket=AgeBucket(row["age_bucket"]),
        tags=linked,
        profile_image_id=None
        if row["profile_image_id"] is None
        else ImageId(row["profile_image_id"]),
        published_at=row["published_at"],
    )


if TYPE_CHECKING:
    _conforms: type[PublicCatalog] = SqlPublicCatalog
