"""Chat request and response shapes (API.md "Chats")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import attrs
import msgspec
from msgspec import UNSET, UnsetType

from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.chats.model import (
    AUTHOR_NOTE_LIMIT,
    CONTENT_LIMIT,
    SCENARIO_LIMIT,
    TITLE_LIMIT,
    USER_PERSONA_DESCRIPTION_LIMIT,
    USER_PERSONA_NAME_LIMIT,
    Chat,
    ChatSettings,
    Message,
    NsfwLevel,
    UserPersona,
)
from mynth_core.chats.ports import Siblings
from mynth_core.chats.progress import ChapterStarted, Delta, MessagesCreated
from mynth_core.chats.replies import ReplyResult
from mynth_core.chats.services import ChatPatch, Thread
from mynth_core.generation.runs import Progress
from mynth_core.ids import MessageId
from mynth_core.pagination import Page
from mynth_core.pricing import ChatMode, PriceTable
from mynth_http.schemas.common import Timestamp, documented, rfc3339
from mynth_http.schemas.economy import BalanceOut

Mode = Literal["roleplay", "story"]
Nsfw = Literal["off", "sfw", "suggestive", "explicit_natural", "explicit_driven"]
Content = Annotated[str, documented("1-8000 characters after trimming", maxLength=CONTENT_LIMIT)]
ChatTitle = Annotated[str, documented(maxLength=TITLE_LIMIT)]


class UserPersonaIO(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The user's own character in a roleplay."""

    name: Annotated[str, documented(maxLength=USER_PERSONA_NAME_LIMIT)]
    description: Annotated[str, documented(maxLength=USER_PERSONA_DESCRIPTION_LIMIT)] = ""


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Chat settings; in an update only the given keys change and `null` clears."""

    model: str | UnsetType = UNSET
    user_persona: UserPersonaIO | UnsetType | None = UNSET
    scenario: Annotated[str, documented(maxLength=SCENARIO_LIMIT)] | UnsetType | None = UNSET
    nsfw_level: Nsfw | UnsetType = UNSET
    author_note: Annotated[str, documented(maxLength=AUTHOR_NOTE_LIMIT)] | UnsetType | None = UNSET

    def over(self, base: ChatSettings) -> ChatSettings:
        """`base` with the given keys replaced."""
        changes: dict[str, Any] = {}
        if not isinstance(self.model, UnsetType):
            changes["model"] = self.model
        if not isinstance(self.user_persona, UnsetType):
            persona = self.user_persona
            changes["user_persona"] = (
                None if persona is None else UserPersona(persona.name, persona.description)
            )
        if not isinstance(self.scenario, UnsetType):
            changes["scenario"] = self.scenario
        if not isinstance(self.nsfw_level, UnsetType):
            changes["nsfw"] = NsfwLevel(self.nsfw_level)
        if not isinstance(self.author_note, UnsetType):
            changes["author_note"] = self.author_note
        return attrs.evolve(base, **changes)


class CreateChatIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start a chat with an own or public persona."""

    persona_id: str
    mode: Mode = "roleplay"
    title: ChatTitle | None = None
    settings: SettingsIn | None = None


class UpdateChatIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Change the title, the mode or some settings."""

    title: ChatTitle | None = None
    mode: Mode | None = None
    settings: SettingsIn | None = None

    def to_patch(self, current: ChatSettings) -> ChatPatch:
        return ChatPatch(
            title=self.title,
            mode=None if self.mode is None else ChatMode(self.mode),
            settings=None if self.settings is None else self.settings.over(current),
        )


class SendMessageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A user message; `parent_id` defaults to the active leaf (null starts a new root)."""

    content: Content
    parent_id: str | UnsetType | None = UNSET


class EditMessageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The new text of a message."""

    content: Content


class SwitchLeafIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which message's branch becomes active."""

    message_id: str


class SettingsOut(msgspec.Struct, kw_only=True):
    """A chat's settings."""

    model: str
    user_persona: UserPersonaIO | None
    scenario: str | None
    nsfw_level: Nsfw
    author_note: str | None

    @classmethod
    def of(cls, settings: ChatSettings) -> SettingsOut:
        persona = settings.user_persona
        return cls(
            model=settings.model,
            user_persona=None
            if persona is None
            else UserPersonaIO(name=persona.name, description=persona.description),
            scenario=settings.scenario,
            nsfw_level=settings.nsfw.value,
            author_note=settings.author_note,
        )


class ChatPersonaOut(msgspec.Struct, kw_only=True):
    """The persona version a chat talks to."""

    id: str
    version_id: str
    version_number: int
    name: str
    thumbnail_url: str | None = None


class ChatOut(msgspec.Struct, kw_only=True):
    """A chat."""

    id: str
    title: str
    mode: Mode
    persona: ChatPersonaOut
    settings: SettingsOut
    leaf_id: str | None
    generation_in_progress: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, chat: Chat, *, now: datetime) -> ChatOut:
        pin = chat.pin
        return cls(
            id=chat.id,
            title=chat.title,
            mode=chat.mode.value,
            persona=ChatPersonaOut(
                id=pin.persona_id,
                version_id=pin.version_id,
                version_number=pin.version_number,
                name=pin.name,
            ),
            settings=SettingsOut.of(chat.settings),
            leaf_id=chat.leaf_id,
            generation_in_progress=chat.generating(now),
            created_at=rfc3339(chat.created_at),
            updated_at=rfc3339(chat.updated_at),
        )


class ChatPageOut(msgspec.Struct, kw_only=True):
    """A page of chats, most recently updated first."""

    items: list[ChatOut]
    next_cursor: str | None


class UsageOut(msgspec.Struct, kw_only=True):
    """Tokens the provider reported for a reply."""

    prompt_tokens: int
    completion_tokens: int


class ChapterOut(msgspec.Struct, kw_only=True):
    """A story reply's chapter."""

    number: int
    title: str


class SiblingsOut(msgspec.Struct, kw_only=True):
    """A message's place among its parent's children (oldest first)."""

    count: int
    index: int


class MessageOut(msgspec.Struct, kw_only=True):
    """One message of a chat."""

    id: str
    parent_id: str | None
    role: Literal["user", "assistant"]
    content: str
    kind: Literal["reply", "regenerate", "continue"] | None
    mode: Mode | None
    persona_version_id: str | None
    chapter: ChapterOut | None
    model: str | None
    usage: UsageOut | None
    cost: int | None
    siblings: SiblingsOut
    created_at: Timestamp

    @classmethod
    def of(cls, message: Message, siblings: Siblings | None) -> MessageOut:
        usage = message.usage
        chapter = message.chapter
        assistant = message.role.value == "assistant"
        place = siblings or Siblings(count=1, index=0)
        return cls(
            id=message.id,
            parent_id=message.parent_id,
            role=message.role.value,
            content=message.content,
            kind=None if message.kind is None else message.kind.value,
            mode=None if message.mode is None else message.mode.value,
            persona_version_id=message.persona_version_id,
            chapter=None
            if chapter is None
            else ChapterOut(number=chapter.number, title=chapter.title),
            model=message.model,
            usage=None
            if usage is None
            else UsageOut(
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
            ),
            cost=message.cost if assistant else None,
            siblings=SiblingsOut(count=place.count, index=place.index),
            created_at=rfc3339(message.created_at),
        )


class ThreadOut(msgspec.Struct, kw_only=True):
    """A branch, root → leaf (newest last)."""

    leaf_id: str | None
    items: list[MessageOut]

    @classmethod
    def of(cls, thread: Thread) -> ThreadOut:
        return cls(
            leaf_id=thread.leaf_id,
            items=[MessageOut.of(m, thread.siblings.get(m.id)) for m in thread.messages],
        )


class ReplyOut(msgspec.Struct, kw_only=True):
    """What a reply operation stored, and the balance afterwards."""

    user_message: MessageOut | None
    reply: MessageOut
    balance: BalanceOut

    @classmethod
    def of(cls, result: ReplyResult) -> ReplyOut:
        places: Mapping[MessageId, Siblings] = result.siblings
        user = result.user_message
        return cls(
            user_message=None if user is None else MessageOut.of(user, places.get(user.id)),
            reply=MessageOut.of(result.reply, places.get(result.reply.id)),
            balance=BalanceOut.of(result.balance),
        )


def reply_event(event: Progress) -> tuple[str, object] | None:
    """The SSE event for a reply's progress: `message`, `delta` or `chapter`."""
    if isinstance(event, Delta):
        return "delta", {"text": event.text}
    if isinstance(event, MessagesCreated):
        return "message", {"user_message_id": event.user_message_id, "reply_id": event.reply_id}
    if isinstance(event, ChapterStarted):
        return "chapter", {"number": event.number, "title": event.title}
    return None


class ChatCostOut(msgspec.Struct, kw_only=True):
    """Tokens per reply in each mode."""

    roleplay: int
    story: int


class ChatModelOut(msgspec.Struct, kw_only=True):
    """One chat model users can pick."""

    id: str
    display_name: str
    context_window: int
    cost: ChatCostOut
    default: bool
    free_variant: bool
    uncensored: bool
    description: str
    trains_on_data: Literal["yes", "no", "unknown"]
    stores_messages: Literal["yes", "no", "unknown"]


def chat_models_out(catalogue: ChatCatalogue, prices: PriceTable) -> list[ChatModelOut]:
    """The enabled models with their per-reply costs."""
    return [
        ChatModelOut(
            id=entry.id,
            display_name=entry.display_name,
            context_window=entry.context_window,
            cost=ChatCostOut(
                roleplay=prices.chat_cost(entry.id, ChatMode.ROLEPLAY).value,
                story=prices.chat_cost(entry.id, ChatMode.STORY).value,
            ),
            default=entry.id == catalogue.default,
            free_variant=entry.free_variant,
            uncensored=entry.uncensored,
            description=entry.description,
            trains_on_data=entry.trains_on_data.value,
            stores_messages=entry.stores_messages.value,
        )
        for entry in catalogue.enabled
    ]


def page_out(page: Page[Chat], *, now: datetime) -> ChatPageOut:
    """A page of chats as the API shows it."""
    return ChatPageOut(
        items=[ChatOut.of(c, now=now) for c in page.items], next_cursor=page.next_cursor
    )
