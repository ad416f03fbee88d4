"""The reply operations of a chat: send, regenerate, edit, continue (PRODUCT.md §6.3).

Each decides the `Turn` (parent, kind, chapter, new user message) and hands it to
`ChatReplies`, which claims the slot, charges, stores and streams.
"""

from __future__ import annotations

import attrs

from mynth_core.chats.model import Chat, Message, ReplyKind, Role, check_content
from mynth_core.chats.replies import ChatReplies, ReplyResult, Turn
from mynth_core.clock import Clock
from mynth_core.errors import GenerationInProgressError, ValidationError
from mynth_core.generation.runs import Generation
from mynth_core.identity import Principal
from mynth_core.ids import MESSAGE, ChatId, IdFactory, MessageId
from mynth_core.pricing import ChatMode
from mynth_core.uow import UnitOfWorkFactory


@attrs.frozen
class SendMessage:
    """A user message under an assistant message (or as a new root) and its reply."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    replies: ChatReplies

    async def __call__(  # noqa: PLR0913 - keyword-only options of one request
        self,
        who: Principal,
        chat_id: ChatId,
        content: str,
        *,
        parent_id: MessageId | None = None,
        use_active_leaf: bool = True,
        idempotency_key: str | None = None,
    ) -> Generation[ReplyResult]:
        """`parent_id` defaults to the active leaf; it must be an assistant message.

        Raises:
            ValidationError, NotFoundError, and what `ChatReplies.run` raises.
        """
        text = check_content(content)
        async with self.uow(read_only=True) as uow:
            chat = self.replies.idle(await uow.chats.get(chat_id, owner=who.user_id))
            parent = parent_id if parent_id is not None or not use_active_leaf else chat.leaf_id
            if parent is not None:
                above = await uow.chats.message(chat_id, parent)
                if above.role is not Role.ASSISTANT:
                    raise ValidationError.single("parent_id", "must be an assistant message")
            chapter = await self.replies.writer.next_chapter(uow, chat, parent)
        user_message = Message(
            id=MessageId(self.ids.new(MESSAGE)),
            chat_id=chat_id,
            parent_id=parent,
            role=Role.USER,
            content=text,
            created_at=self.clock.now(),
        )
        turn = Turn(
            chat=chat,
            parent_id=user_message.id,
            kind=ReplyKind.REPLY,
            new_user_message=user_message,
            chapter=chapter,
        )
        return await self.replies.run(who, turn, idempotency_key=idempotency_key)


@attrs.frozen
class RegenerateReply:
    """A new sibling of an assistant message, or a first reply to a user message."""

    uow: UnitOfWorkFactory
    replies: ChatReplies

    async def __call__(
        self,
        who: Principal,
        chat_id: ChatId,
        message_id: MessageId,
        *,
        idempotency_key: str | None = None,
    ) -> Generation[ReplyResult]:
        async with self.uow(read_only=True) as uow:
            chat = self.replies.idle(await uow.chats.get(chat_id, owner=who.user_id))
            target = await uow.chats.message(chat_id, message_id)
            if target.role is Role.USER:
                parent, kind = target.id, ReplyKind.REPLY
                chapter = await self.replies.writer.next_chapter(uow, chat, target.parent_id)
            else:
                assert target.parent_id is not None  # noqa: S101 - a reply answers a user message
                parent, kind = target.parent_id, ReplyKind.REGENERATE
                chapter = (  # a regenerated chapter keeps its number; roleplay has none
                    target.chapter.number
                    if target.chapter is not None and chat.mode is ChatMode.STORY
                    else await self.replies.writer.next_chapter(uow, chat, target.parent_id)
                )
        turn = Turn(chat=chat, parent_id=parent, kind=kind, chapter=chapter)
        return await self.replies.run(who, turn, idempotency_key=idempotency_key)


@attrs.frozen
class EditMessage:
    """User message: a sibling with new content and its reply. Assistant: a sibling, free."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    replies: ChatReplies

    async def __call__(
        self,
        who: Principal,
        chat_id: ChatId,
        message_id: MessageId,
        content: str,
        *,
        idempotency_key: str | None = None,
    ) -> Generation[ReplyResult]:
        text = check_content(content)
        async with self.uow(read_only=True) as uow:
            chat = self.replies.idle(await uow.chats.get(chat_id, owner=who.user_id))
            target = await uow.chats.message(chat_id, message_id)
            chapter = await self.replies.writer.next_chapter(uow, chat, target.parent_id)
        sibling = attrs.evolve(
            target, id=MessageId(self.ids.new(MESSAGE)), content=text, created_at=self.clock.now()
        )
        if target.role is Role.ASSISTANT:
            return Generation.of(await self._replace_reply(who, chat, sibling))
        turn = Turn(
            chat=chat,
            parent_id=sibling.id,
            kind=ReplyKind.REPLY,
            new_user_message=sibling,
            chapter=chapter,
        )
        return await self.replies.run(who, turn, idempotency_key=idempotency_key)

    async def _replace_reply(self, who: Principal, chat: Chat, sibling: Message) -> ReplyResult:
        reply = attrs.evolve(sibling, usage=None, cost=0)
        async with self.uow() as uow:
            current = await uow.chats.get(chat.id, owner=who.user_id)
            if current.generating(self.clock.now()):
                raise GenerationInProgressError(detail="a generation is already running")
            await uow.chats.add_message(reply)
            await uow.chats.save(
                attrs.evolve(current, leaf_id=reply.id, updated_at=reply.created_at)
            )
            await uow.commit()
        return await self.replies.result(who, None, reply)


@attrs.frozen
class ContinueReply:
    """Extend the active leaf's reply as a new sibling (same chapter)."""

    uow: UnitOfWorkFactory
    replies: ChatReplies

    async def __call__(
        self, who: Principal, chat_id: ChatId, *, idempotency_key: str | None = None
    ) -> Generation[ReplyResult]:
        async with self.uow(read_only=True) as uow:
            chat = self.replies.idle(await uow.chats.get(chat_id, owner=who.user_id))
            if chat.leaf_id is None:
                raise ValidationError.single("leaf_id", "the chat has no reply to continue")
            target = await uow.chats.message(chat_id, chat.leaf_id)
        if target.role is not Role.ASSISTANT or target.parent_id is None:
            raise ValidationError.single("leaf_id", "the active message is not a reply")
        turn = Turn(
            chat=chat,
            parent_id=target.parent_id,
            kind=ReplyKind.CONTINUE,
            continued=target,
            chapter=target.chapter.number if target.chapter else None,
        )
        return await self.replies.run(who, turn, idempotency_key=idempotency_key)
