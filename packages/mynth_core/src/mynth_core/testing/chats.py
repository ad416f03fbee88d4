"""`InMemoryChatRepository`: chats and message trees in dictionaries, for tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from mynth_core.chats.model import Chat, Lease, Message
from mynth_core.chats.ports import RollingSummary, Siblings
from mynth_core.errors import ConflictError, NotFoundError
from mynth_core.ids import ChatId, MessageId, PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor


@attrs.define
class ChatStore:
    """What the chat fakes persist (part of `InMemoryStore`)."""

    chats: dict[ChatId, Chat] = attrs.field(factory=dict)
    messages: dict[MessageId, Message] = attrs.field(factory=dict)
    summaries: dict[tuple[ChatId, MessageId], RollingSummary] = attrs.field(factory=dict)
    roleplay_summaries: dict[VersionId, str] = attrs.field(factory=dict)

    def snapshot(self) -> ChatStore:
        """New containers over the same frozen values."""
        return ChatStore(
            chats=dict(self.chats),
            messages=dict(self.messages),
            summaries=dict(self.summaries),
            roleplay_summaries=dict(self.roleplay_summaries),
        )


@attrs.define
class InMemoryChatRepository:
    """The ChatRepository contract over a `ChatStore`."""

    store: ChatStore

    async def get(self, chat_id: ChatId, *, owner: UserId) -> Chat:
        chat = self.store.chats.get(chat_id)
        if chat is None or chat.owner_id != owner:
            raise NotFoundError("chat", chat_id)
        return chat

    async def add(self, chat: Chat) -> None:
        if chat.id in self.store.chats:
            raise ConflictError(detail=f"chat {chat.id} exists")
        self.store.chats[chat.id] = chat

    async def save(self, chat: Chat) -> None:
        stored = self.store.chats.get(chat.id)
        if stored is None:
            raise NotFoundError("chat", chat.id)
        # Like the SQL adapter: the owner, the creation time and the lease are never saved.
        self.store.chats[chat.id] = attrs.evolve(
            chat,
            owner_id=stored.owner_id,
            created_at=stored.created_at,
            generation=stored.generation,
        )

    async def delete(self, chat_id: ChatId) -> None:
        self.store.chats.pop(chat_id, None)
        for message in [m for m in self.store.messages.values() if m.chat_id == chat_id]:
            del self.store.messages[message.id]
        for key in [k for k in self.store.summaries if k[0] == chat_id]:
            del self.store.summaries[key]

    async def list_owned(
        self,
        owner: UserId,
        *,
        query: str | None,
        persona_id: PersonaId | None,
        page: PageRequest,
    ) -> Page[Chat]:
        mine = [
            c
            for c in self.store.chats.values()
            if c.owner_id == owner
            and (query is None or query.lower() in c.title.lower())
            and (persona_id is None or c.pin.persona_id == persona_id)
        ]
        mine.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        if page.cursor is not None:
            at, last_id = decode_cursor(page.cursor, 2)
            mine = [c for c in mine if (c.updated_at.isoformat(), c.id) < (at, last_id)]
        items = tuple(mine[: page.limit])
        more = len(mine) > page.limit
        cursor = encode_cursor(items[-1].updated_at.isoformat(), items[-1].id) if more else None
        return Page(items, cursor)

    async def claim_generation(self, chat_id: ChatId, lease: Lease, *, at: datetime) -> bool:
        chat = self.store.chats.get(chat_id)
        if chat is None or chat.generating(at):
            return False
        self.store.chats[chat_id] = attrs.evolve(chat, generation=lease)
        return True

    async def release_generation(self, chat_id: ChatId, lease_id: str) -> None:
        chat = self.store.chats.get(chat_id)
        if chat is not None and chat.generation is not None and chat.generation.id == lease_id:
            self.store.chats[chat_id] = attrs.evolve(chat, generation=None)

    async def expired_generations(self, *, before: datetime, limit: int) -> Sequence[Chat]:
        held = [
            chat
            for chat in self.store.chats.values()
            if chat.generation is not None and chat.generation.expires_at < before
        ]
        held.sort(key=lambda chat: chat.generation.expires_at if chat.generation else before)
        return held[:limit]

    async def add_message(self, message: Message) -> None:
        if message.id in self.store.messages:
            raise ConflictError(detail=f"message {message.id} exists")
        self.store.messages[message.id] = message

    async def message(self, chat_id: ChatId, message_id: MessageId) -> Message:
        message = self.store.messages.get(message_id)
        if message is None or message.chat_id != chat_id:
            raise NotFoundError("message", message_id)
        return message

    async def path(self, chat_id: ChatId, leaf_id: MessageId, *, limit: int) -> tuple[Message, ...]:
        found: list[Message] = []
        current: MessageId | None = leaf_id
        while current is not None and len(found) < limit:
            message = await self.message(chat_id, current)
            found.append(message)
            current = message.parent_id
        return tuple(reversed(found))

    async def children(self, chat_id: ChatId, parent_id: MessageId | None) -> tuple[Message, ...]:
        kids = [
            m
            for m in self.store.messages.values()
            if m.chat_id == chat_id and m.parent_id == parent_id
        ]
        return tuple(sorted(kids, key=lambda m: (m.created_at, m.id)))

    async def newest_leaf(self, chat_id: ChatId, message_id: MessageId) -> MessageId:
        current = (await self.message(chat_id, message_id)).id
        while kids := await self.children(chat_id, current):
            current = kids[-1].id
        return current

    async def siblings(
        self, chat_id: ChatId, messages: Sequence[Message]
    ) -> Mapping[MessageId, Siblings]:
        found: dict[MessageId, Siblings] = {}
        for message in messages:
            kids = [k.id for k in await self.children(chat_id, message.parent_id)]
            found[message.id] = Siblings(count=len(kids), index=kids.index(message.id))
        return found

    async def summary_on(self, chat_id: ChatId, path: Sequence[MessageId]) -> RollingSummary | None:
        for message_id in reversed(path):
            if (summary := self.store.summaries.get((chat_id, message_id))) is not None:
                return summary
        return None

    async def add_summary(self, summary: RollingSummary) -> None:
        self.store.summaries[summary.chat_id, summary.anchor_id] = summary

    async def roleplay_summary(self, version_id: VersionId) -> str | None:
        return self.store.roleplay_summaries.get(version_id)

    async def save_roleplay_summary(self, version_id: VersionId, summary: str) -> None:
        self.store.roleplay_summaries[version_id] = summary


if TYPE_CHECKING:
    from mynth_core.chats.ports import ChatRepository

    _conforms: type[ChatRepository] = InMemoryChatRepository
