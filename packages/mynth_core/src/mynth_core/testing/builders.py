"""Builders for core objects with sensible defaults; override only what a test is about."""

from __future__ import annotations

from datetime import UTC, datetime

from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.personas.events import PersonaEvent
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import Persona, VersionDraft, VersionSource

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def persona_data(**overrides: str | None) -> PersonaData:
    """Valid persona data (Aurora, a lighthouse keeper) with `overrides` applied."""
    fields: dict[str, str | None] = {
        "name": "Aurora Vale",
        "age": "34",
        "gender": "female",
        "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
        "personality": "Dry humour, fiercely loyal, distrusts easy answers.",
        "background": "Raised on a northern island; keeps the last manned lighthouse.",
        "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    }
    fields.update(overrides)
    return PersonaData.parse(fields)


def a_persona(
    *,
    persona_id: str = "prs_0001",
    owner: str = "alice",
    data: PersonaData | None = None,
    title: str | None = None,
    at: datetime = T0,
) -> tuple[Persona, tuple[PersonaEvent, ...]]:
    """A freshly created persona (version 1, source manual) and its creation events."""
    draft = VersionDraft(
        id=VersionId(f"prv_{persona_id.removeprefix('prs_')}_1"),
        data=data or persona_data(),
        title=title,
        source=VersionSource.MANUAL,
    )
    return Persona.create(PersonaId(persona_id), UserId(owner), draft, at=at)
