"""The ChatRepository port: chats, their message trees, summaries and the generation slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from mynth_core.chats.model import Chat, Lease, Message
from mynth_core.ids import ChatId, MessageId, PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest


@attrs.frozen(kw_only=True)
class RollingSummary:
    """A running account of a branch up to and including `anchor_id` (§6.8).

    Attached to the newest message it covers, so branches that share that message reuse it
    and branches that diverged earlier never see it.
    """

    chat_id: ChatId
    anchor_id: MessageId
    text: str
    created_at: datetime


@attrs.frozen(kw_only=True)
class Siblings:
    """Where a message sits among the children of its parent (oldest first)."""

    count: int
    index: int


class ChatRepository(Protocol):
    """**Port**: chats and their append-only message trees.

    `get` raises `NotFoundError` for a missing chat or someone else's (never told apart).
    Reads of a path never load more than they are asked for, so a reply costs the same
    however long the chat has grown.
    """

    async def get(self, chat_id: ChatId, *, owner: UserId) -> Chat: ...

    async def add(self, chat: Chat) -> None: ...

    async def save(self, chat: Chat) -> None:
        """Store title, mode, settings, pin, active leaf and `updated_at` (not the lease)."""

    async def delete(self, chat_id: ChatId) -> None:
        """Remove the chat with its messages and summaries."""

    async def list_owned(
        self,
        owner: UserId,
        *,
        query: str | None,
        persona_id: PersonaId | None,
        page: PageRequest,
    ) -> Page[Chat]:
        """Own chats, newest `updated_at` first; `query` matches the title, any case.

        Raises:
            ValidationError: the page cursor is not one this repository made.
        """

    async def claim_generation(self, chat_id: ChatId, lease: Lease, *, at: datetime) -> bool:
        """Take the chat's generation slot unless a lease unexpired at `at` holds it.

        One atomic conditional write: of two concurrent claims at most one succeeds, across
        processes too.
        """

    async def release_generation(self, chat_id: ChatId, lease_id: str) -> None:
        """Free the slot if `lease_id` still holds it."""

    async def expired_generations(self, *, before: datetime, limit: int) -> Sequence[Chat]:
        """Chats whose generation lease expired before `before` and was never released.

        Their generation died with its process (a live one always releases its lease).
        Oldest expiry first, at most `limit`.
        """

    async def add_message(self, message: Message) -> None: ...

    async def message(self, chat_id: ChatId, message_id: MessageId) -> Message:
        """One message of the chat; `NotFoundError` if it belongs to no such chat."""

    async def path(self, chat_id: ChatId, leaf_id: MessageId, *, limit: int) -> tuple[Message, ...]:
        """The last `limit` messages on the path root → `leaf_id`, oldest first."""

    async def children(self, chat_id: ChatId, parent_id: MessageId | None) -> tuple[Message, ...]:
        """The children of `parent_id` (the roots for None), oldest first."""

    async def newest_leaf(self, chat_id: ChatId, message_id: MessageId) -> MessageId:
        """The leaf reached from `message_id` by always taking the newest child."""

    async def siblings(
        self, chat_id: ChatId, messages: Sequence[Message]
    ) -> Mapping[MessageId, Siblings]:
        """Each message's place among its parent's children."""

    async def summary_on(self, chat_id: ChatId, path: Sequence[MessageId]) -> RollingSummary | None:
        """The summary anchored on the newest message of `path` that has one."""

    async def add_summary(self, summary: RollingSummary) -> None:
        """Store a summary (a newer one on the same anchor replaces it)."""

    async def roleplay_summary(self, version_id: VersionId) -> str | None:
        """The cached roleplay summary of a persona version (§6.6), as stored text."""

    async def save_roleplay_summary(self, version_id: VersionId, summary: str) -> None: ...
