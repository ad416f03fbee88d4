"""Persona ports: the repository of aggregates and versions, and the event log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest
from mynth_core.personas.events import StoredEvent
from mynth_core.personas.model import Persona, PersonaVersion


class PersonaRepository(Protocol):
    """**Port**: Persona aggregates and their append-only versions.

    Reads never return a soft-deleted persona: `get` raises `NotFoundError` for a missing,
    deleted or (with `owner`) someone else's persona, with no way to tell which.
    `get_for_update` also locks the persona until the unit of work ends, so concurrent
    changes to one persona are serialised and version numbers never collide; a collision
    that slips through anyway raises `ConflictError` (never a silent overwrite).
    """

    async def get(self, persona_id: PersonaId, *, owner: UserId | None = None) -> Persona: ...

    async def get_for_update(self, persona_id: PersonaId, *, owner: UserId) -> Persona: ...

    async def add(self, persona: Persona) -> None:
        """Store a new persona together with its current (first) version."""

    async def save(self, persona: Persona) -> None:
        """Store a changed persona; its current version is inserted if it is new."""

    async def list_owned(
        self, owner: UserId, *, query: str | None, page: PageRequest
    ) -> Page[Persona]:
        """Own personas, newest `updated_at` first; `query` matches title or name, any case.

        Raises:
            ValidationError: the page cursor is not one this repository made.
        """

    async def versions(self, persona_id: PersonaId) -> tuple[PersonaVersion, ...]:
        """Every version of a persona, oldest first."""

    async def version(self, persona_id: PersonaId, version_id: VersionId) -> PersonaVersion:
        """One version of a persona; `NotFoundError` if it belongs to another persona."""

    async def find_version(self, version_id: VersionId) -> PersonaVersion | None:
        """A version by id alone, whatever its persona's state; None if there is none."""

    async def stale_publishes(self, before: datetime, *, limit: int) -> tuple[PersonaId, ...]:
        """Personas whose publish has been pending since before `before`, oldest first."""

    async def slug_taken(self, slug: str) -> bool:
        """Whether any persona (deleted ones too) has ever been given `slug`."""

    async def unpublish_all(self, owner: UserId, *, at: datetime) -> int:
        """Take every persona of `owner` out of public view (a deleted owner); return how many.

        Clears `public_version_id` and sets `updated_at` to `at` on each persona that was
        public; the others are left alone. Idempotent.
        """


class EventLog(Protocol):
    """**Port**: the append-only log of persona events, written in the change's transaction.

    `list_for` pages newest first; an event appended later never shifts an earlier page.
    """

    async def append(self, events: Sequence[StoredEvent]) -> None: ...

    async def list_for(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredEvent]: ...
