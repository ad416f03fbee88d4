"""The chat prompts (PRODUCT.md §6.4-6.8) as specs; the renderer owns the wording.

A reply's prompt is assembled from rendered parts in this order: the mode's system message
(`RoleplaySystem` or `StorySystem`), the rolling summary block, the history turns, the author
note just before the latest user message, the latest user message, and for `continue` the
message being continued plus a continue instruction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar, Final

import attrs

from mynth_core.chats.model import NsfwLevel, UserPersona
from mynth_core.generation.ports import JsonSchema
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.prompts import persona_json

FALLBACK_FIELD_LIMIT: Final = 400
ROLEPLAY_SUMMARY_FIELDS: Final = (
    "appearance",
    "personality",
    "background",
    "interests",
    "skills",
    "motivations",
)


@attrs.frozen(kw_only=True)
class RoleplaySummary:
    """A condensed, token-efficient view of a persona version (§6.6)."""

    name: str
    age: str
    gender: str
    appearance: str
    personality: str
    background: str
    interests: str | None = None
    skills: str | None = None
    motivations: str | None = None

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RoleplaySummary:
        fields = json.loads(text)
        return cls(**{f.name: fields.get(f.name) for f in attrs.fields(cls)})

    @classmethod
    def fallback(cls, data: PersonaData) -> RoleplaySummary:
        """The deterministic stand-in when the summary cannot be generated (not cached)."""

        def clip(text: str | None) -> str | None:
            return None if text is None else text[:FALLBACK_FIELD_LIMIT]

        return cls(
            name=data.name,
            age=data.age,
            gender=data.gender,
            appearance=data.appearance[:FALLBACK_FIELD_LIMIT],
            personality=data.personality[:FALLBACK_FIELD_LIMIT],
            background=data.background[:FALLBACK_FIELD_LIMIT],
            motivations=clip(data.occupation),
        )

    def variables(self) -> dict[str, object]:
        return attrs.asdict(self)


def substitute(text: str | None, *, char: str, user: str) -> str | None:
    """`{{char}}` and `{{user}}` replaced by plain names (never template syntax)."""
    if text is None:
        return None
    return text.replace("{{char}}", char).replace("{{user}}", user)


@attrs.frozen(kw_only=True)
class RoleplaySystem:
    """The roleplay system message: the model is the persona (§6.4)."""

    template: ClassVar[str] = "chat_roleplay"
    character: RoleplaySummary
    user_persona: UserPersona | None
    scenario: str | None
    nsfw: NsfwLevel

    def variables(self) -> Mapping[str, object]:
        user = self.user_persona
        return {
            "character": self.character.variables(),
            "user_persona": None
            if user is None
            else {"name": user.name, "description": user.description},
            "scenario": self.scenario,
            "nsfw": self.nsfw.value,
        }


@attrs.frozen(kw_only=True)
class StorySystem:
    """The story system message: a narrator writes exactly one chapter, number `chapter`."""

    template: ClassVar[str] = "chat_story"
    character: RoleplaySummary
    scenario: str | None
    nsfw: NsfwLevel
    chapter: int

    def variables(self) -> Mapping[str, object]:
        return {
            "character": self.character.variables(),
            "scenario": self.scenario,
            "nsfw": self.nsfw.value,
            "chapter": self.chapter,
        }


@attrs.frozen
class SummaryBlock:
    """The rolling summary, as a block placed before the history."""

    template: ClassVar[str] = "chat_summary_block"
    summary: str

    def variables(self) -> Mapping[str, object]:
        return {"summary": self.summary}


@attrs.frozen
class AuthorNote:
    """The standing instruction placed just before the latest user message."""

    template: ClassVar[str] = "chat_author_note"
    note: str

    def variables(self) -> Mapping[str, object]:
        return {"note": self.note}


@attrs.frozen
class ContinueInstruction:
    """The instruction that follows the message being continued."""

    template: ClassVar[str] = "chat_continue"
    story: bool

    def variables(self) -> Mapping[str, object]:
        return {"story": self.story}


@attrs.frozen
class RoleplaySummaryPrompt:
    """Condense a persona version into a roleplay summary (§6.6); structured output."""

    template: ClassVar[str] = "roleplay_summary"
    data: PersonaData

    def variables(self) -> Mapping[str, object]:
        return {"persona_json": persona_json(self.data)}


@attrs.frozen(kw_only=True)
class RollingSummaryPrompt:
    """Fold older turns into the running account of a branch (§6.8); plain text."""

    template: ClassVar[str] = "rolling_summary"
    previous: str | None
    turns: tuple[tuple[str, str], ...]  # (speaker, text), oldest first
    character: str

    def variables(self) -> Mapping[str, object]:
        return {
            "previous": self.previous,
            "turns": [{"speaker": s, "text": t} for s, t in self.turns],
            "character": self.character,
        }


def _nullable_text() -> dict[str, object]:
    return {"type": ["string", "null"]}


ROLEPLAY_SUMMARY_SCHEMA: Final = JsonSchema(
    name="roleplay_summary",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": list(ROLEPLAY_SUMMARY_FIELDS),
        "properties": {
            "appearance": {"type": "string"},
            "personality": {"type": "string"},
            "background": {"type": "string"},
            "interests": _nullable_text(),
            "skills": _nullable_text(),
            "motivations": _nullable_text(),
        },
    },
)
