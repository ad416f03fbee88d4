"""SqlPersonaRepository and SqlEventLog, with the row mappers between tables and the core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs
from cattrs.preconf.json import JsonConverter
from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mynth_adapters.converters import event_from_record, event_record, persistence_converter
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.tables import (
    insert_or_ignore,
    persona_events,
    persona_tags,
    persona_versions,
    personas,
    tags,
)
from mynth_core.errors import NotFoundError, ValidationError
from mynth_core.ids import EventId, PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor
from mynth_core.personas.events import StoredEvent
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import CloneSource, Persona, PersonaVersion, VersionSource
from mynth_core.publishing.model import (
    AgeBucket,
    Classification,
    Gender,
    NsfwRating,
    Publication,
    PublishError,
    PublishStatus,
    Tag,
    TagCategory,
)

if TYPE_CHECKING:
    from mynth_core.personas.ports import EventLog, PersonaRepository

_V = "v_"  # prefix of the current version's columns in a persona row


Tags = tuple[Tag, ...]


@attrs.frozen
class SqlPersonaRepository:
    """Personas in `personas`, their versions in `persona_versions`, tags in `persona_tags`.

    A persona's classification tags are read with one more query, and only for personas
    that have a classification. Saving rewrites a persona's tag links only when its tags
    differ from those this unit of work knows it holds: the ones it locked (`get_for_update`)
    or wrote itself; a persona saved without that knowledge has its links rewritten.
    """

    conn: AsyncConnection
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)
    # Tags in the database per persona, as of this transaction; only rows it has locked or
    # written, so no concurrent writer can have changed them since.
    _stored_tags: dict[PersonaId, Tags] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    async def get(self, persona_id: PersonaId, *, owner: UserId | None = None) -> Persona:
        with translate_db_errors():
            return await self._load(persona_id, owner=owner)

    async def get_for_update(self, persona_id: PersonaId, *, owner: UserId) -> Persona:
        # FOR UPDATE on Postgres; SQLite's BEGIN IMMEDIATE already holds the write lock.
        # Lock the bare row first: Postgres re-checks a locked row that changed meanwhile
        # against the query, and a join would then compare the new current_version_id with
        # the old version row and lose the persona. `_load` then sees the committed change.
        params = {"persona_id": persona_id, "owner": owner}
        with translate_db_errors():
            if (await self.conn.execute(_LOCK_OWNED, params)).one_or_none() is None:
                raise NotFoundError("persona", persona_id)
            persona = await self._load(persona_id, owner=owner)
        self._stored_tags[persona_id] = _tags_of(persona)
        return persona

    async def add(self, persona: Persona) -> None:
        with translate_db_errors():
            await self.conn.execute(insert(personas).values(_persona_values(persona)))
            await self.conn.execute(
                insert(persona_versions).values(self._version_values(persona.current_version))
            )
            await self._link_tags(persona.id, _tags_of(persona))
        self._stored_tags[persona.id] = _tags_of(persona)

    async def save(self, persona: Persona) -> None:
        values = _persona_values(persona)
        for immutable in ("id", "owner_id", "created_at"):
            del values[immutable]
        with translate_db_errors():
            # A stored version is left alone; a new one with a taken number still raises.
            await self.conn.execute(
                insert_or_ignore(
                    self.conn,
                    persona_versions,
                    self._version_values(persona.current_version),
                    ["id"],
                )
            )
            result = await self.conn.execute(
                update(personas).where(personas.c.id == persona.id).values(values)
            )
            if result.rowcount == 0:
                raise NotFoundError("persona", persona.id)
            wanted = _tags_of(persona)
            if self._stored_tags.pop(persona.id, None) != wanted:
                await self.conn.execute(
                    delete(persona_tags).where(persona_tags.c.persona_id == persona.id)
                )
                await self._link_tags(persona.id, wanted)
        self._stored_tags[persona.id] = wanted

    async def list_owned(
        self, owner: UserId, *, query: str | None, page: PageRequest
    ) -> Page[Persona]:
        stmt = _persona_select().where(
            personas.c.owner_id == owner, personas.c.deleted_at.is_(None)
        )
        if query:
            stmt = stmt.where(_matches(query))
        if page.cursor is not None:
            stmt = stmt.where(_after(*_decode_persona_cursor(page.cursor)))
        stmt = stmt.order_by(personas.c.updated_at.desc(), personas.c.id.desc())
        with translate_db_errors():
            rows = (await self.conn.execute(stmt.limit(page.limit + 1))).mappings().all()
            chosen = rows[: page.limit]
            found = await tags_of(self.conn, (r["id"] for r in chosen if _classified(r)))
            items = await self._attributed(
                [self._persona(row, found.get(row["id"], ())) for row in chosen]
            )
        more = len(rows) > page.limit
        last = items[-1] if more else None
        cursor = encode_cursor(last.updated_at.isoformat(), last.id) if last else None
        return Page(items, cursor)

    async def versions(self, persona_id: PersonaId) -> tuple[PersonaVersion, ...]:
        stmt = (
            select(persona_versions)
            .where(
                persona_versions.c.persona_id == persona_id,
                persona_versions.c.deleted_at.is_(None),
            )
            .order_by(persona_versions.c.version_number)
        )
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        return tuple(self._version(row) for row in rows)

    async def version(self, persona_id: PersonaId, version_id: VersionId) -> PersonaVersion:
        stmt = select(persona_versions).where(
            persona_versions.c.id == version_id,
            persona_versions.c.persona_id == persona_id,
            persona_versions.c.deleted_at.is_(None),
        )
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("version", version_id)
        return self._version(row)

    async def find_version(self, version_id: VersionId) -> PersonaVersion | None:
        stmt = select(persona_versions).where(persona_versions.c.id == version_id)
        with translate_db_errors():
            row = (await self.conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else self._version(row)

    async def stale_publishes(self, before: datetime, *, limit: int) -> tuple[PersonaId, ...]:
        stmt = (
            select(personas.c.id)
            .where(
                personas.c.publish_status == str(PublishStatus.PENDING),
                personas.c.publish_requested_at < before,
                personas.c.deleted_at.is_(None),
            )
            .order_by(personas.c.publish_requested_at)
            .limit(limit)
        )
        with translate_db_errors():
            return tuple(PersonaId(i) for i in (await self.conn.execute(stmt)).scalars())

    async def slug_taken(self, slug: str) -> bool:
        stmt = select(personas.c.id).where(personas.c.slug == slug).limit(1)
        with translate_db_errors():
            return (await self.conn.execute(stmt)).first() is not None

    async def unpublish_all(self, owner: UserId, *, at: datetime) -> int:
        stmt = (
            update(personas)
            .where(personas.c.owner_id == owner, personas.c.public_version_id.is_not(None))
            .values(public_version_id=None, publish_status=str(PublishStatus.NONE), updated_at=at)
        )
        with translate_db_errors():
            return (await self.conn.execute(stmt)).rowcount

    async def _link_tags(self, persona_id: PersonaId, wanted: Tags) -> None:
        """Link `persona_id` to `wanted` (it has no links), adding new names to `tags`."""
        if not wanted:
            return
        # Sorted, so concurrent publishes adding the same new names lock them in one order.
        vocabulary = [{"name": t.name, "category": str(t.category)} for t in wanted]
        vocabulary.sort(key=lambda row: row["name"])
        await self.conn.execute(insert_or_ignore(self.conn, tags, vocabulary, ["name"]))
        names = [t.name for t in wanted]
        found = await self.conn.execute(
            select(tags.c.name, tags.c.id).where(tags.c.name.in_(names))
        )
        ids: dict[str, int] = dict(found.all())
        links = [
            {
                "persona_id": persona_id,
                "tag_id": ids[t.name],
                "position": i,
                "category": str(t.category),
            }
            for i, t in enumerate(wanted)
        ]
        await self.conn.execute(insert(persona_tags), links)

    async def _load(self, persona_id: PersonaId, *, owner: UserId | None) -> Persona:
        params = {"persona_id": persona_id, "owner": owner}
        loading = _LOAD_ANY if owner is None else _LOAD_OWNED
        row = (await self.conn.execute(loading, params)).mappings().one_or_none()
        if row is None:
            raise NotFoundError("persona", persona_id)
        found = await tags_of(self.conn, [persona_id]) if _classified(row) else {}
        (persona,) = await self._attributed((self._persona(row, found.get(persona_id, ())),))
        return persona

    async def _attributed(self, found: Sequence[Persona]) -> tuple[Persona, ...]:
        """`found` with each clone's source slug while that source is public (§4.10).

        One query, and only when `found` holds a clone.
        """
        sources = {p.cloned_from.persona_id for p in found if p.cloned_from is not None}
        if not sources:
            return tuple(found)
        stmt = select(personas.c.id, personas.c.slug).where(
            personas.c.id.in_(sources),
            personas.c.public_version_id.is_not(None),
            personas.c.deleted_at.is_(None),
        )
        slugs = {row.id: row.slug for row in await self.conn.execute(stmt)}
        return tuple(
            p
            if p.cloned_from is None
            else attrs.evolve(
                p, cloned_from=attrs.evolve(p.cloned_from, slug=slugs.get(p.cloned_from.persona_id))
            )
            for p in found
        )

    def _persona(self, row: RowMapping, linked: Tags) -> Persona:
        cloned_from = None
        if row["cloned_from_persona_id"] is not None:
            cloned_from = CloneSource(
                PersonaId(row["cloned_from_persona_id"]), VersionId(row["cloned_from_version_id"])
            )
        return Persona(
            id=PersonaId(row["id"]),
            owner_id=UserId(row["owner_id"]),
            current_version=self._version(row, prefix=_V),
            next_version_number=row["next_version_number"],
            cloned_from=cloned_from,
            public_version_id=row["public_version_id"],
            profile_image_id=row["profile_image_id"],
            publication=publication_of(row, linked),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            deleted_at=row["deleted_at"],
        )

    def _version(self, row: RowMapping, prefix: str = "") -> PersonaVersion:
        def col(name: str) -> Any:  # noqa: ANN401 - a column value of any type
            return row[prefix + name]

        return PersonaVersion(
            id=VersionId(col("id")),
            persona_id=PersonaId(col("persona_id")),
            version_number=col("version_number"),
            title=col("title"),
            data=self.converter.structure(col("data"), PersonaData),
            source=VersionSource(col("source")),
            user_message=col("user_message"),
            ai_note=col("ai_note"),
            model=col("model"),
            created_at=col("created_at"),
        )

    def _version_values(self, version: PersonaVersion) -> dict[str, Any]:
        return {
            "id": version.id,
            "persona_id": version.persona_id,
            "version_number": version.version_number,
            "title": version.title,
            "data": self.converter.unstructure(version.data),
            "source": str(version.source),
            "user_message": version.user_message,
            "ai_note": version.ai_note,
            "model": version.model,
            "created_at": version.created_at,
        }


def _persona_select() -> Select[Any]:
    """A persona row joined with its current version (columns prefixed `v_`)."""
    return _PERSONA_SELECT


_PERSONA_SELECT: Final = select(
    personas, *(column.label(_V + column.name) for column in persona_versions.c)
).join(persona_versions, persona_versions.c.id == personas.c.current_version_id)

# The statements that read one persona, built once: a persona is read on nearly every
# request, and a reused statement skips building its clauses and its cache key each time.
_LIVE: Final = and_(personas.c.id == bindparam("persona_id"), personas.c.deleted_at.is_(None))
_OWNED: Final = personas.c.owner_id == bindparam("owner")
_LOAD_ANY: Final = _PERSONA_SELECT.where(_LIVE)
_LOAD_OWNED: Final = _LOAD_ANY.where(_OWNED)
_LOCK_OWNED: Final = select(personas.c.id).where(_LIVE, _OWNED).with_for_update()


def publication_of(row: RowMapping, linked: Tags) -> Publication:
    """The publication stored in a `personas` row, with the persona's `linked` tags."""
    classification = None
    if _classified(row):
        classification = Classification(
            headline=row["headline"],
            nsfw_rating=NsfwRating(row["nsfw_rating"]),
            gender=Gender(row["gender"]),
            age_bucket=AgeBucket(row["age_bucket"]),
            tags=linked,
        )
    last_error = None
    if row["last_error_code"] is not None:
        last_error = PublishError(
            code=row["last_error_code"],
            message=row["last_error_message"],
            at=row["last_error_at"],
        )
    return Publication(
        status=PublishStatus(row["publish_status"]),
        slug=row["slug"],
        public_name=row["public_name"],
        classification=classification,
        published_at=row["published_at"],
        requested_at=row["publish_requested_at"],
        requested_version_id=row["publish_version_id"],
        last_error=last_error,
    )


async def tags_of(conn: AsyncConnection, persona_ids: Iterable[str]) -> dict[str, Tags]:
    """The tags of each of `persona_ids` that has any, in classification order (one query)."""
    wanted = list(persona_ids)
    if not wanted:
        return {}
    stmt = (
        select(persona_tags.c.persona_id, tags.c.name, persona_tags.c.category)
        .join(tags, tags.c.id == persona_tags.c.tag_id)
        .where(persona_tags.c.persona_id.in_(wanted))
        .order_by(persona_tags.c.persona_id, persona_tags.c.position)
    )
    found: dict[str, list[Tag]] = {}
    for persona_id, name, category in await conn.execute(stmt):
        found.setdefault(persona_id, []).append(Tag(name, TagCategory(category)))
    return {persona_id: tuple(linked) for persona_id, linked in found.items()}


def _classified(row: RowMapping) -> bool:
    """Whether a `personas` row holds a classification (so it may have tags)."""
    return row["headline"] is not None


def _tags_of(persona: Persona) -> Tags:
    classification = persona.publication.classification
    return () if classification is None else classification.tags


def _persona_values(persona: Persona) -> dict[str, Any]:
    clone = persona.cloned_from
    publication = persona.publication
    classification = publication.classification
    error = publication.last_error
    return {
        "id": persona.id,
        "owner_id": persona.owner_id,
        "current_version_id": persona.current_version_id,
        "next_version_number": persona.next_version_number,
        "title": persona.title,
        "name": persona.current_version.data.name,
        "cloned_from_persona_id": clone.persona_id if clone else None,
        "cloned_from_version_id": clone.version_id if clone else None,
        "public_version_id": persona.public_version_id,
        "profile_image_id": persona.profile_image_id,
        "created_at": persona.created_at,
        "updated_at": persona.updated_at,
        "deleted_at": persona.deleted_at,
        "publish_status": str(publication.status),
        "slug": publication.slug,
        "public_name": publication.public_name,
        "headline": classification.headline if classification else None,
        "nsfw_rating": str(classification.nsfw_rating) if classification else None,
        "gender": str(classification.gender) if classification else None,
        "age_bucket": str(classification.age_bucket) if classification else None,
        "published_at": publication.published_at,
        "publish_requested_at": publication.requested_at,
        "publish_version_id": publication.requested_version_id,
        "last_error_code": error.code if error else None,
        "last_error_message": error.message if error else None,
        "last_error_at": error.at if error else None,
    }


def _matches(query: str) -> ColumnElement[bool]:
    """Title or name contains `query` in any case; `%` and `_` match only themselves."""
    needle = query.lower()
    return or_(
        func.lower(personas.c.title).contains(needle, autoescape=True),
        func.lower(personas.c.name).contains(needle, autoescape=True),
    )


def _decode_persona_cursor(cursor: str) -> tuple[datetime, str]:
    at_text, last_id = decode_cursor(cursor, 2)
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise _bad_cursor() from None
    if at.tzinfo is None:
        raise _bad_cursor()
    return at, last_id


def _after(at: datetime, last_id: str) -> ColumnElement[bool]:
    """Rows after (`at`, `last_id`) in (updated_at desc, id desc) order."""
    updated_at = personas.c.updated_at
    return or_(updated_at < at, and_(updated_at == at, personas.c.id < last_id))


@attrs.frozen
class SqlEventLog:
    """Persona events in `persona_events`, ordered by their insertion sequence."""

    conn: AsyncConnection
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)

    async def append(self, events: Sequence[StoredEvent]) -> None:
        rows = [self._row(stored) for stored in events]
        if not rows:
            return
        with translate_db_errors():
            await self.conn.execute(insert(persona_events), rows)

    async def list_for(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredEvent]:
        stmt = select(persona_events).where(persona_events.c.persona_id == persona_id)
        if page.cursor is not None:
            stmt = stmt.where(persona_events.c.seq < _decode_event_cursor(page.cursor))
        stmt = stmt.order_by(persona_events.c.seq.desc()).limit(page.limit + 1)
        with translate_db_errors():
            rows = (await self.conn.execute(stmt)).mappings().all()
        chosen = rows[: page.limit]
        more = len(rows) > page.limit
        cursor = encode_cursor(str(chosen[-1]["seq"])) if more else None
        return Page(tuple(self._event(row) for row in chosen), cursor)

    def _row(self, stored: StoredEvent) -> dict[str, Any]:
        tag, data = event_record(self.converter, stored.event)
        return {
            "id": stored.id,
            "persona_id": stored.event.persona_id,
            "type": tag,
            "data": data,
            "created_at": stored.event.at,
        }

    def _event(self, row: RowMapping) -> StoredEvent:
        event = event_from_record(
            self.converter,
            row["type"],
            row["data"],
            persona_id=PersonaId(row["persona_id"]),
            at=row["created_at"],
        )
        return StoredEvent(EventId(row["id"]), event)


def _decode_event_cursor(cursor: str) -> int:
    (before,) = decode_cursor(cursor, 1)
    try:
        return int(before)
    except ValueError:
        raise _bad_cursor() from None


def _bad_cursor() -> ValidationError:
    return ValidationError.single("cursor", "is not a valid cursor")


if TYPE_CHECKING:
    _conforms: type[PersonaRepository] = SqlPersonaRepository
    _conforms_log: type[EventLog] = SqlEventLog
