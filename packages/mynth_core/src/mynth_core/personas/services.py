"""Persona use cases: each opens a unit of work, lets the aggregate decide, stores, commits."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from mynth_core.clock import Clock
from mynth_core.identity import Principal
from mynth_core.ids import EVENT, PERSONA, VERSION, EventId, IdFactory, PersonaId, VersionId
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.events import PersonaEvent, StoredEvent
from mynth_core.personas.fields import (
    NOTE_LIMIT,
    TITLE_LIMIT,
    PersonaData,
    PersonaPatch,
    check_text,
)
from mynth_core.personas.model import (
    CloneSource,
    Persona,
    PersonaVersion,
    VersionDraft,
    VersionSource,
)
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

CURRENT = "current"  # accepted wherever a version id is read


async def record(uow: UnitOfWork, ids: IdFactory, events: Sequence[PersonaEvent]) -> None:
    """Append `events` to the log of the open unit of work, each under a fresh id."""
    await uow.events.append([StoredEvent(EventId(ids.new(EVENT)), e) for e in events])


@attrs.frozen
class CreatePersona:
    """Create a persona from structured data: version 1, source `manual`, 0 tokens."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, who: Principal, data: PersonaData, title: str | None) -> Persona:
        check_text("title", title, TITLE_LIMIT)
        draft = VersionDraft(
            id=VersionId(self.ids.new(VERSION)), data=data, title=title, source=VersionSource.MANUAL
        )
        persona, events = Persona.create(
            PersonaId(self.ids.new(PERSONA)), who.user_id, draft, at=self.clock.now()
        )
        async with self.uow() as uow:
            await uow.personas.add(persona)
            await record(uow, self.ids, events)
            await uow.commit()
        return persona


@attrs.frozen
class ListPersonas:
    """The caller's own personas, most recently updated first."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, query: str | None, page: PageRequest) -> Page[Persona]:
        async with self.uow(read_only=True) as uow:
            found = await uow.personas.list_owned(who.user_id, query=query or None, page=page)
        now = self.clock.now()
        return attrs.evolve(found, items=tuple(p.as_of(now) for p in found.items))


@attrs.frozen
class GetPersona:
    """One of the caller's own personas."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, who: Principal, persona_id: PersonaId) -> Persona:
        async with self.uow(read_only=True) as uow:
            persona = await uow.personas.get(persona_id, owner=who.user_id)
        return persona.as_of(self.clock.now())


@attrs.frozen
class ListVersions:
    """Every version of one of the caller's personas, oldest first."""

    uow: UnitOfWorkFactory

    async def __call__(self, who: Principal, persona_id: PersonaId) -> tuple[PersonaVersion, ...]:
        async with self.uow(read_only=True) as uow:
            await uow.personas.get(persona_id, owner=who.user_id)
            return await uow.personas.versions(persona_id)


@attrs.frozen
class GetVersion:
    """One version of one of the caller's personas, by id or as `current`."""

    uow: UnitOfWorkFactory

    async def __call__(
        self, who: Principal, persona_id: PersonaId, version_id: str
    ) -> PersonaVersion:
        async with self.uow(read_only=True) as uow:
            persona = await uow.personas.get(persona_id, owner=who.user_id)
            if version_id == CURRENT:
                return persona.current_version
            return await uow.personas.version(persona_id, VersionId(version_id))


@attrs.frozen(kw_only=True)
class EditRequest:
    """A manual edit: the fields to change plus optional title, note and base version."""

    patch: PersonaPatch
    title: str | None = None
    note: str | None = None
    base_version_id: VersionId | None = None


@attrs.frozen
class EditPersona:
    """Apply a manual edit as a new current version (source `manual`)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(
        self, who: Principal, persona_id: PersonaId, edit: EditRequest
    ) -> PersonaVersion:
        """Write the edit as the next version.

        Raises:
            ValidationError: the edited data or title breaks a rule.
            VersionConflictError: `base_version_id` is no longer current.
            NoChangeError: the edit changes nothing.
        """
        check_text("title", edit.title, TITLE_LIMIT)
        check_text("note", edit.note, NOTE_LIMIT)
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            draft = VersionDraft(
                id=VersionId(self.ids.new(VERSION)),
                data=persona.current_version.data.apply(edit.patch),
                title=edit.title,
                source=VersionSource.MANUAL,
                user_message=edit.note,
            )
            persona, events = persona.add_version(
                draft, at=self.clock.now(), base_version_id=edit.base_version_id
            )
            await uow.personas.save(persona)
            await record(uow, self.ids, events)
            await uow.commit()
        return persona.current_version


@attrs.frozen
class RevertPersona:
    """Move the current-version pointer to another existing version."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, who: Principal, persona_id: PersonaId, to: VersionId) -> Persona:
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            target = await uow.personas.version(persona_id, to)
            persona, events = persona.revert_to(target, at=self.clock.now())
            await uow.personas.save(persona)
            await record(uow, self.ids, events)
            await uow.commit()
        return persona


@attrs.frozen
class ClonePersona:
    """Copy an own persona's current version, or a public persona's public version."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, who: Principal, persona_id: PersonaId) -> Persona:
        async with self.uow() as uow:
            source = await uow.personas.get(persona_id)
            version = await uow.personas.version(
                persona_id, source.readable_version_for(who.user_id)
            )
            draft = VersionDraft(
                id=VersionId(self.ids.new(VERSION)),
                data=version.data,
                title=version.title,
                source=VersionSource.CLONE,
                user_message=f"Cloned from {version.title} v{version.version_number}",
            )
            clone, events = Persona.create(
                PersonaId(self.ids.new(PERSONA)),
                who.user_id,
                draft,
                at=self.clock.now(),
                cloned_from=CloneSource(source.id, version.id),
            )
            await uow.personas.add(clone)
            await record(uow, self.ids, events)
            await uow.commit()
        return clone


@attrs.frozen
class DeletePersona:
    """Soft-delete one of the caller's personas (it also leaves the public catalog)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory

    async def __call__(self, who: Principal, persona_id: PersonaId) -> None:
        async with self.uow() as uow:
            persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
            persona, events = persona.delete(at=self.clock.now())
            await uow.personas.save(persona)
            await record(uow, self.ids, events)
            await uow.commit()


@attrs.frozen
class ListPersonaEvents:
    """The events of one of the caller's personas, newest first."""

    uow: UnitOfWorkFactory

    async def __call__(
        self, who: Principal, persona_id: PersonaId, page: PageRequest
    ) -> Page[StoredEvent]:
        async with self.uow(read_only=True) as uow:
            await uow.personas.get(persona_id, owner=who.user_id)
            return await uow.events.list_for(persona_id, page)
