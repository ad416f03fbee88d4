"""Persona events: append-only records written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from mynth_core.ids import EventId, PersonaId, VersionId


@attrs.frozen(kw_only=True)
class PersonaCreated:
    """A persona came into being with its first version."""

    persona_id: PersonaId
    at: datetime
    version_id: VersionId
    source: str


@attrs.frozen(kw_only=True)
class PersonaVersionCreated:
    """A new version was added and became current."""

    persona_id: PersonaId
    at: datetime
    version_id: VersionId
    version_number: int
    source: str


@attrs.frozen(kw_only=True)
class PersonaReverted:
    """The current-version pointer moved back to an existing version."""

    persona_id: PersonaId
    at: datetime
    from_version_id: VersionId
    to_version_id: VersionId


@attrs.frozen(kw_only=True)
class PersonaCloned:
    """This persona was cloned from another persona's version."""

    persona_id: PersonaId
    at: datetime
    source_persona_id: PersonaId
    source_version_id: VersionId


@attrs.frozen(kw_only=True)
class PersonaDeleted:
    """The persona was soft-deleted."""

    persona_id: PersonaId
    at: datetime


@attrs.frozen(kw_only=True)
class PersonaImageGenerated:
    """An image job for this persona succeeded."""

    persona_id: PersonaId
    at: datetime
    job_id: str
    image_id: str
    model: str
    quality: str


@attrs.frozen(kw_only=True)
class PersonaImageFailed:
    """An image job for this persona failed (its charge was refunded)."""

    persona_id: PersonaId
    at: datetime
    job_id: str
    error_code: str


@attrs.frozen(kw_only=True)
class PersonaPublished:
    """A version of this persona became its public version."""

    persona_id: PersonaId
    at: datetime
    version_id: VersionId
    slug: str
    nsfw_rating: str


@attrs.frozen(kw_only=True)
class PersonaPublishFailed:
    """A publish of this persona failed."""

    persona_id: PersonaId
    at: datetime
    version_id: VersionId
    error_code: str


@attrs.frozen(kw_only=True)
class PersonaUnpublished:
    """The persona left the public catalog."""

    persona_id: PersonaId
    at: datetime
    version_id: VersionId


PersonaEvent = (
    PersonaCreated
    | PersonaVersionCreated
    | PersonaReverted
    | PersonaCloned
    | PersonaDeleted
    | PersonaImageGenerated
    | PersonaImageFailed
    | PersonaPublished
    | PersonaPublishFailed
    | PersonaUnpublished
)

# The stable wire and storage names. Renaming a class must never change these.
EVENT_TYPES: Final[Mapping[type[PersonaEvent], str]] = {
    PersonaCreated: "persona.created",
    PersonaVersionCreated: "persona.version_created",
    PersonaReverted: "persona.reverted",
    PersonaCloned: "persona.cloned",
    PersonaDeleted: "persona.deleted",
    PersonaImageGenerated: "persona.image_generated",
    PersonaImageFailed: "persona.image_failed",
    PersonaPublished: "persona.published",
    PersonaPublishFailed: "persona.publish_failed",
    PersonaUnpublished: "persona.unpublished",
}
EVENT_CLASSES: Final[Mapping[str, type[PersonaEvent]]] = {v: k for k, v in EVENT_TYPES.items()}
_ENVELOPE: Final = frozenset({"persona_id", "at"})


def event_type(event: PersonaEvent) -> str:
    """The stable type tag of `event`, e.g. `persona.reverted`."""
    return EVENT_TYPES[type(event)]


def event_data(event: PersonaEvent) -> dict[str, str | int]:
    """The type-specific payload of `event` (everything but persona id and time)."""
    return {
        f.name: getattr(event, f.name) for f in attrs.fields(type(event)) if f.name not in _ENVELOPE
    }


def event_from(
    type_: str, *, persona_id: PersonaId, at: datetime, data: Mapping[str, object]
) -> PersonaEvent:
    """Rebuild an event from its tag and payload (the inverse of `event_type`/`event_data`)."""
    return EVENT_CLASSES[type_](persona_id=persona_id, at=at, **data)  # type: ignore[arg-type]


@attrs.frozen
class StoredEvent:
    """An event with the id it was stored under."""

    id: EventId
    event: PersonaEvent
