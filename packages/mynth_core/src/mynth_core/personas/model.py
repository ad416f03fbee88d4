"""The Persona aggregate and its immutable versions."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from mynth_core.errors import NoChangeError, NotFoundError, VersionConflictError
from mynth_core.ids import ImageId, PersonaId, UserId, VersionId
from mynth_core.personas.events import (
    PersonaCloned,
    PersonaCreated,
    PersonaDeleted,
    PersonaEvent,
    PersonaReverted,
    PersonaVersionCreated,
)
from mynth_core.personas.fields import PersonaData
from mynth_core.publishing.model import Publication, PublishStatus

Events = tuple[PersonaEvent, ...]


class VersionSource(enum.StrEnum):
    """Where a version's content came from."""

    GENERATE = "generate"
    MANUAL = "manual"
    ENHANCE = "enhance"
    PROPERTY = "property"
    IMPORT = "import"
    CLONE = "clone"


@attrs.frozen(kw_only=True)
class PersonaVersion:
    """An immutable snapshot of persona data with its metadata."""

    id: VersionId
    persona_id: PersonaId
    version_number: int = attrs.field(validator=attrs.validators.ge(1))
    title: str
    data: PersonaData
    source: VersionSource
    user_message: str | None = None
    ai_note: str | None = None
    model: str | None = None
    created_at: datetime


@attrs.frozen(kw_only=True)
class VersionDraft:
    """What a change proposes for the next version; the aggregate numbers and dates it."""

    id: VersionId
    data: PersonaData
    title: str | None = None
    source: VersionSource
    user_message: str | None = None
    ai_note: str | None = None
    model: str | None = None

    def to_version(
        self, persona_id: PersonaId, number: int, at: datetime, *, fallback_title: str
    ) -> PersonaVersion:
        return PersonaVersion(
            id=self.id,
            persona_id=persona_id,
            version_number=number,
            title=self.title or fallback_title,
            data=self.data,
            source=self.source,
            user_message=self.user_message,
            ai_note=self.ai_note,
            model=self.model,
            created_at=at,
        )


@attrs.frozen
class CloneSource:
    """Attribution of a clone: the persona and version it copied.

    `slug` is the source's slug while the source is public (§4.10): looked up when the clone
    is read, never stored, and not part of equality.
    """

    persona_id: PersonaId
    version_id: VersionId
    slug: str | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class Persona:
    """A character owned by one user; its content lives in append-only versions.

    Versions live in the repository, append-only; the aggregate keeps only what its rules
    need: the `current_version` the owner works on and the `next_version_number` to assign,
    so loading a persona costs the same however many versions it has. Commands return
    `(new_persona, events)` and never mutate.
    """

    id: PersonaId
    owner_id: UserId
    current_version: PersonaVersion
    next_version_number: int
    cloned_from: CloneSource | None = None
    public_version_id: VersionId | None = None
    profile_image_id: ImageId | None = None
    publication: Publication = attrs.Factory(Publication)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.current_version.persona_id != self.id:
            msg = "the current version must be one of the persona's versions"
            raise AssertionError(msg)
        if self.current_version.version_number >= self.next_version_number:
            msg = "version numbers must stay below next_version_number"
            raise AssertionError(msg)

    @property
    def title(self) -> str:
        return self.current_version.title

    @property
    def current_version_id(self) -> VersionId:
        return self.current_version.id

    @property
    def is_public(self) -> bool:
        return self.public_version_id is not None and self.deleted_at is None

    @classmethod
    def create(
        cls,
        persona_id: PersonaId,
        owner_id: UserId,
        draft: VersionDraft,
        *,
        at: datetime,
        cloned_from: CloneSource | None = None,
    ) -> tuple[Persona, Events]:
        """A new persona whose version 1 is `draft`."""
        version = draft.to_version(persona_id, 1, at, fallback_title=draft.data.name)
        persona = cls(
            id=persona_id,
            owner_id=owner_id,
            current_version=version,
            next_version_number=2,
            cloned_from=cloned_from,
            created_at=at,
            updated_at=at,
        )
        events: Events = (
            PersonaCreated(
                persona_id=persona_id, at=at, version_id=version.id, source=draft.source
            ),
        )
        if cloned_from is not None:
            events += (
                PersonaCloned(
                    persona_id=persona_id,
                    at=at,
                    source_persona_id=cloned_from.persona_id,
                    source_version_id=cloned_from.version_id,
                ),
            )
        return persona, events

    def add_version(
        self, draft: VersionDraft, *, at: datetime, base_version_id: VersionId | None = None
    ) -> tuple[Persona, Events]:
        """Append `draft` as the next version and make it current.

        Raises:
            VersionConflictError: `base_version_id` is given and is no longer current.
            NoChangeError: the draft's data and title equal the current version's.
        """
        if base_version_id is not None and base_version_id != self.current_version_id:
            raise VersionConflictError(
                detail=f"version {base_version_id} is no longer the current version"
            )
        current = self.current_version
        if draft.data == current.data and (draft.title or current.title) == current.title:
            raise NoChangeError
        version = draft.to_version(
            self.id, self.next_version_number, at, fallback_title=current.title
        )
        moved = attrs.evolve(
            self,
            current_version=version,
            next_version_number=self.next_version_number + 1,
            updated_at=at,
        )
        event = PersonaVersionCreated(
            persona_id=self.id,
            at=at,
            version_id=version.id,
            version_number=version.version_number,
            source=version.source,
        )
        return moved, (event,)

    def revert_to(self, version: PersonaVersion, *, at: datetime) -> tuple[Persona, Events]:
        """Move the current-version pointer to an existing version; no version is written.

        Raises:
            NotFoundError: `version` belongs to another persona.
            NoChangeError: `version` is already current.
        """
        if version.persona_id != self.id:
            raise NotFoundError("version", version.id)
        if version.id == self.current_version_id:
            raise NoChangeError
        moved = attrs.evolve(self, current_version=version, updated_at=at)
        event = PersonaReverted(
            persona_id=self.id,
            at=at,
            from_version_id=self.current_version_id,
            to_version_id=version.id,
        )
        return moved, (event,)

    def as_of(self, now: datetime) -> Persona:
        """The persona as a read at `now` sees it: a stale pending publish has failed."""
        seen = self.publication.seen_at(now)
        return self if seen is self.publication else attrs.evolve(self, publication=seen)

    def show_image(self, image_id: ImageId, *, at: datetime) -> Persona:
        """Make `image_id` (one of this persona's succeeded images) the profile image."""
        return attrs.evolve(self, profile_image_id=image_id, updated_at=at)

    def delete(self, *, at: datetime) -> tuple[Persona, Events]:
        """Soft-delete: the persona leaves the catalog and reads as missing from now on."""
        gone = attrs.evolve(
            self,
            deleted_at=at,
            public_version_id=None,
            publication=attrs.evolve(self.publication, status=PublishStatus.NONE),
            updated_at=at,
        )
        return gone, (PersonaDeleted(persona_id=self.id, at=at),)

    def readable_version_for(self, reader: UserId) -> VersionId:
        """The version `reader` may copy: the current one for the owner, else the public one.

        Raises:
            NotFoundError: deleted, or private and not the reader's.
        """
        if self.deleted_at is None:
            if self.owner_id == reader:
                return self.current_version_id
            if self.public_version_id is not None:
                return self.public_version_id
        raise NotFoundError("persona", self.id)
