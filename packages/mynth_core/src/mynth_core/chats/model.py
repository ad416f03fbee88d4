"""The Chat aggregate, its settings and its messages (PRODUCT.md §6.1-6.3).

A chat is pinned to one persona version and holds a tree of messages (parent ids). Messages
are never edited or deleted: every operation adds nodes. The chat stores its active leaf and
the lease of the one generation that may run in it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs

from mynth_core.errors import FieldError, GenerationInProgressError, ValidationError
from mynth_core.generation.ports import Usage
from mynth_core.ids import ChatId, MessageId, PersonaId, UserId, VersionId
from mynth_core.pricing import ChatMode

TITLE_LIMIT: Final = 120
CONTENT_LIMIT: Final = 8000
USER_PERSONA_NAME_LIMIT: Final = 64
USER_PERSONA_DESCRIPTION_LIMIT: Final = 1000
SCENARIO_LIMIT: Final = 4000
AUTHOR_NOTE_LIMIT: Final = 500
CHAPTER_TITLE_LIMIT: Final = 120


class NsfwLevel(enum.StrEnum):
    """How much mature content a chat allows (§6.4)."""

    OFF = "off"
    SFW = "sfw"
    SUGGESTIVE = "suggestive"
    EXPLICIT_NATURAL = "explicit_natural"
    EXPLICIT_DRIVEN = "explicit_driven"

    @property
    def is_explicit(self) -> bool:
        return self in {NsfwLevel.EXPLICIT_NATURAL, NsfwLevel.EXPLICIT_DRIVEN}


class Role(enum.StrEnum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"


class ReplyKind(enum.StrEnum):
    """How an assistant message came to be."""

    REPLY = "reply"
    REGENERATE = "regenerate"
    CONTINUE = "continue"


@attrs.frozen
class UserPersona:
    """The user's own character in a roleplay."""

    name: str
    description: str


@attrs.frozen(kw_only=True)
class ChatSettings:
    """What the next generation uses; every change applies from the next reply on."""

    model: str
    user_persona: UserPersona | None = None
    scenario: str | None = None
    nsfw: NsfwLevel = NsfwLevel.SFW
    author_note: str | None = None

    def check(self) -> ChatSettings:
        """Return the settings when every limit holds.

        Raises:
            ValidationError: each broken limit, addressed as `settings.<field>`.
        """
        errors: list[FieldError] = []
        persona = self.user_persona
        if persona is not None:
            errors += _text("settings.user_persona.name", persona.name, USER_PERSONA_NAME_LIMIT)
            errors += _text(
                "settings.user_persona.description",
                persona.description,
                USER_PERSONA_DESCRIPTION_LIMIT,
                blank_ok=True,
            )
        errors += _text("settings.scenario", self.scenario, SCENARIO_LIMIT)
        errors += _text("settings.author_note", self.author_note, AUTHOR_NOTE_LIMIT)
        if errors:
            raise ValidationError(tuple(errors))
        return self


def _text(field: str, value: str | None, limit: int, *, blank_ok: bool = False) -> list[FieldError]:
    if value is None:
        return []
    if "\x00" in value:
        return [FieldError(field, "must not contain NUL characters")]
    if not blank_ok and not value.strip():
        return [FieldError(field, "must not be empty")]
    if len(value) > limit:
        return [FieldError(field, f"is longer than {limit} characters")]
    return []


def check_content(content: str, field: str = "content") -> str:
    """A user message: 1-8000 characters after trimming, no NUL; returned trimmed.

    Raises:
        ValidationError: naming `field`.
    """
    text = content.strip()
    errors = _text(field, text, CONTENT_LIMIT)
    if errors:
        raise ValidationError(tuple(errors))
    return text


def check_title(title: str, field: str = "title") -> str:
    """A chat title: 1-120 characters.

    Raises:
        ValidationError: naming `field`.
    """
    errors = _text(field, title, TITLE_LIMIT)
    if errors:
        raise ValidationError(tuple(errors))
    return title


@attrs.frozen
class Pin:
    """The persona version a chat talks to, with that version's number and persona name.

    Versions never change, so the number and name are copied once when the chat is pinned
    (listing chats needs no version reads).
    """

    persona_id: PersonaId
    version_id: VersionId
    version_number: int
    name: str


@attrs.frozen
class Lease:
    """The one generation allowed to run in a chat, until `expires_at` (a crash frees it)."""

    id: str
    expires_at: datetime


@attrs.frozen
class Chapter:
    """A story reply's chapter."""

    number: int
    title: str


@attrs.frozen(kw_only=True)
class Message:
    """One node of a chat's message tree; never edited or deleted."""

    id: MessageId
    chat_id: ChatId
    parent_id: MessageId | None
    role: Role
    content: str
    created_at: datetime
    kind: ReplyKind | None = None
    mode: ChatMode | None = None
    persona_version_id: VersionId | None = None
    model: str | None = None
    usage: Usage | None = None
    cost: int = 0
    chapter: Chapter | None = None


@attrs.frozen(kw_only=True)
class Chat:
    """A conversation of one user with one pinned persona version."""

    id: ChatId
    owner_id: UserId
    title: str
    mode: ChatMode = ChatMode.ROLEPLAY
    pin: Pin
    settings: ChatSettings
    leaf_id: MessageId | None = None
    generation: Lease | None = None
    created_at: datetime
    updated_at: datetime

    def generating(self, at: datetime) -> bool:
        """Whether a generation holds the chat at `at` (an expired lease does not)."""
        return self.generation is not None and self.generation.expires_at > at

    def claim(self, lease_id: str, *, at: datetime, ttl: timedelta) -> Chat:
        """Take the generation slot.

        Raises:
            GenerationInProgressError: another generation holds it.
        """
        if self.generating(at):
            raise GenerationInProgressError(detail="a generation is already running in this chat")
        return attrs.evolve(self, generation=Lease(lease_id, at + ttl))

    def changed(self, values: Mapping[str, object], *, at: datetime) -> Chat:
        """The chat with `values` (title, mode, settings, pin) applied and `updated_at` bumped."""
        return attrs.evolve(self, **values, updated_at=at)  # type: ignore[arg-type]
