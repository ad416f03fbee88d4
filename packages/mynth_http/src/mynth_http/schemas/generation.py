"""Shapes of the persona generation routes: generate, enhance, property actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from mynth_core.generation.runs import Partial, Progress
from mynth_core.ids import PersonaId
from mynth_core.personas.fields import TEXT_FIELDS
from mynth_core.personas.generation import (
    EnhanceResult,
    GeneratedPersonaResult,
    GenerateRequest,
    SketchedPersona,
)
from mynth_core.personas.model import PersonaVersion
from mynth_core.personas.normalise import clean_extensions
from mynth_core.personas.writer import PROMPT_LIMIT
from mynth_http.schemas.common import documented
from mynth_http.schemas.personas import PersonaDataOut, PersonaOut, VersionOut

Prompt = Annotated[str, documented("1-2048 characters", maxLength=PROMPT_LIMIT)]


class GenerateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Generate a persona from a prompt; with `persona_id`, a new version of that persona."""

    prompt: Prompt
    persona_id: str | None = None
    model: Annotated[str | None, documented("one of the persona-generation models")] = None

    def to_request(self) -> GenerateRequest:
        persona_id = None if self.persona_id is None else PersonaId(self.persona_id)
        return GenerateRequest(prompt=self.prompt, persona_id=persona_id, model=self.model)


class EnhanceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A free-text instruction, e.g. "make her a retired pilot"."""

    prompt: Prompt


class PropertyActionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Expand, rewrite or create one property (a built-in text field or an extension)."""

    property: Annotated[
        str,
        documented(
            "appearance, personality, background, occupation, or a custom snake_case name",
            pattern="^[a-z0-9_]{1,64}$",
        ),
    ]
    action: Literal["expand", "rewrite", "create"]


class SketchOut(msgspec.Struct, kw_only=True):
    """An anonymous caller's persona: returned, never stored."""

    title: str
    data: PersonaDataOut
    ai_note: str | None


class SketchedOut(msgspec.Struct, kw_only=True):
    """`POST /v1/personas/generate` without a token."""

    persona: SketchOut

    @classmethod
    def of(cls, sketch: SketchedPersona) -> SketchedOut:
        return cls(
            persona=SketchOut(
                title=sketch.title, data=PersonaDataOut.of(sketch.data), ai_note=sketch.ai_note
            )
        )


class GeneratedOut(msgspec.Struct, kw_only=True):
    """`POST /v1/personas/generate` signed in: the persona and the version written."""

    persona: PersonaOut
    version: VersionOut

    @classmethod
    def of(cls, result: GeneratedPersonaResult) -> GeneratedOut:
        return cls(persona=PersonaOut.of(result.persona), version=VersionOut.of(result.version))


class NoChangeOut(msgspec.Struct, kw_only=True):
    """An enhancement that changed nothing: no version was written, the charge was refunded."""

    outcome: Literal["no_change"] = "no_change"
    version: None = None
    ai_note: str | None = None


def enhanced_out(result: EnhanceResult) -> VersionOut | NoChangeOut:
    """The body of an enhancement's answer (and of its `done` event)."""
    if result.version is None:
        return NoChangeOut(ai_note=result.ai_note)
    return VersionOut.of(result.version)


def version_out(version: PersonaVersion) -> VersionOut:
    """The body of a property action's answer (and of its `done` event)."""
    return VersionOut.of(version)


def partial_event(event: Progress) -> tuple[str, object] | None:
    """A `partial` SSE event for a partial persona; other progress is not shown."""
    return ("partial", partial_out(event.fields)) if isinstance(event, Partial) else None


def partial_out(fields: Mapping[str, object]) -> dict[str, object]:
    """A partial model output in the API's shape: `{title?, ai_note?, data: {...}}`.

    Unset (null) fields are left out; extensions become a `{key: value}` map; a property
    that is not a built-in field is shown inside `data.extensions`.
    """
    shaped: dict[str, object] = {}
    data: dict[str, object] = {}
    extensions: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name == "title":
            shaped["title"] = value
        elif name == "note_for_user":
            shaped["ai_note"] = value
        elif name == "extensions":
            extensions.update(clean_extensions(value))
        elif name in TEXT_FIELDS:
            data[name] = value
        elif isinstance(value, str):
            extensions[name] = value
    if extensions:
        data["extensions"] = extensions
    shaped["data"] = data
    return shaped
