"""The persona prompts (PRODUCT.md §4.5, §4.7, §4.8) as specs, and their output contracts.

Each spec says what its prompt must contain; the `PromptRenderer` adapter owns the wording.
Every schema is strict-mode compatible (every property required, no additional properties):
optional values are nullable, and extensions travel as a list of `{key, value}` pairs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import ClassVar, Final

import attrs

from mynth_core.generation.ports import JsonSchema
from mynth_core.personas.fields import PersonaData


def persona_json(data: PersonaData) -> str:
    """The persona as the JSON data block a prompt embeds (keys in field order)."""
    document: dict[str, object] = {
        "name": data.name,
        "age": data.age,
        "gender": data.gender,
        "appearance": data.appearance,
        "personality": data.personality,
        "background": data.background,
        "summary": data.summary,
    }
    if data.occupation is not None:
        document["occupation"] = data.occupation
    document["extensions"] = dict(data.extension_items)
    return json.dumps(document, ensure_ascii=False, indent=2)


class PropertyAction(enum.StrEnum):
    """What a property action does to one property (§4.8)."""

    EXPAND = "expand"
    REWRITE = "rewrite"
    CREATE = "create"


@attrs.frozen
class PersonaGenerationPrompt:
    """Generate a whole persona from the user's request (§4.5)."""

    template: ClassVar[str] = "persona_generate"
    prompt: str

    def variables(self) -> Mapping[str, object]:
        return {"prompt": self.prompt}


@attrs.frozen
class PersonaEnhancePrompt:
    """Change a persona as the user's instruction asks, answering only the changed fields."""

    template: ClassVar[str] = "persona_enhance"
    current: PersonaData
    title: str
    instruction: str

    def variables(self) -> Mapping[str, object]:
        return {
            "persona_json": persona_json(self.current),
            "title": self.title,
            "instruction": self.instruction,
        }


@attrs.frozen
class PropertyActionPrompt:
    """Expand, rewrite or create one property of a persona."""

    template: ClassVar[str] = "property_action"
    current: PersonaData
    property: str
    action: PropertyAction

    def variables(self) -> Mapping[str, object]:
        return {
            "persona_json": persona_json(self.current),
            "property": self.property,
            "property_words": self.property.replace("_", " "),
            "action": self.action.value,
            "current_value": _property_value(self.current, self.property),
        }


BUILT_IN_PROPERTIES: Final = ("appearance", "personality", "background", "occupation")
"""The top-level fields a property action may change; any other name is an extension."""


def _property_value(data: PersonaData, name: str) -> str | None:
    if name in BUILT_IN_PROPERTIES:
        value: str | None = getattr(data, name)
        return value
    return data.extensions.get(name)


_TEXT: Final = {"type": "string"}
_NULLABLE_TEXT: Final = {"type": ["string", "null"]}
_EXTENSIONS: Final = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "value"],
        "properties": {"key": _TEXT, "value": _TEXT},
    },
}


def _object(properties: Mapping[str, object]) -> dict[str, object]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": dict(properties),
    }


PERSONA_SCHEMA: Final = JsonSchema(
    name="persona",
    schema=_object(
        {
            "title": _TEXT,
            "note_for_user": _TEXT,
            "name": _TEXT,
            "age": _TEXT,
            "gender": {"type": "string", "enum": ["male", "female", "other"]},
            "summary": _TEXT,
            "appearance": _TEXT,
            "personality": _TEXT,
            "background": _TEXT,
            "occupation": _NULLABLE_TEXT,
            "extensions": _EXTENSIONS,
        }
    ),
)
"""§4.5's output contract: the whole persona plus `title` and `note_for_user`."""

PERSONA_CHANGES_SCHEMA: Final = JsonSchema(
    name="persona_changes",
    schema=_object(
        {
            "title": _NULLABLE_TEXT,
            "note_for_user": _TEXT,
            "name": _NULLABLE_TEXT,
            "age": _NULLABLE_TEXT,
            "gender": _NULLABLE_TEXT,
            "summary": _NULLABLE_TEXT,
            "appearance": _NULLABLE_TEXT,
            "personality": _NULLABLE_TEXT,
            "background": _NULLABLE_TEXT,
            "occupation": _NULLABLE_TEXT,
            "extensions": _EXTENSIONS,
        }
    ),
)
"""§4.7's output contract: only changed fields (null = unchanged), `note_for_user` always."""


def property_schema(name: str) -> JsonSchema:
    """§4.8's output contract: an object with exactly one string member named `name`."""
    return JsonSchema(name="property_action", schema=_object({name: _TEXT}))
