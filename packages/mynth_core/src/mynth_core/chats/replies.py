"""Chat replies: send, regenerate, edit, continue (PRODUCT.md §6.3, §6.7-6.10).

Every reply first claims the chat's one generation slot (409 otherwise), then charges the
model's per-reply cost for the chat's mode (402 leaves nothing stored), then stores the new
user message (if any). Only then does the caller get a `Generation` that streams `Delta`s
and ends with the stored reply, or refunds. No transaction stays open while the model
writes; the slot is released however the generation ends. The slot's lease is named after
the reply: if a process dies mid-reply, the lease expires and the reply is settled (its
charge refunded) by the next claim or by the sweep (`chats.settlement`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AsyncExitStack, aclosing
from datetime import timedelta
from typing import Final

import attrs

from mynth_core.chats.model import (
    Chat,
    Lease,
    Message,
    ReplyKind,
    Role,
)
from mynth_core.chats.ports import Siblings
from mynth_core.chats.progress import Delta, MessagesCreated
from mynth_core.chats.prompting import ChatWriter, StoryHeading
from mynth_core.chats.settlement import MESSAGE_REFERENCE, settle_abandoned_reply
from mynth_core.clock import Clock
from mynth_core.errors import (
    GenerationEmptyError,
    GenerationInProgressError,
)
from mynth_core.generation.ports import ChatRequest, Completion, TextDelta
from mynth_core.generation.runs import Generation, Progress, Trace, logged
from mynth_core.identity import Principal
from mynth_core.ids import MESSAGE, ChatId, IdFactory, MessageId
from mynth_core.ledger.holds import charged_amount, hold_charge
from mynth_core.ledger.model import Balance, Reference
from mynth_core.ledger.services import ChargeGuard, GetBalance, LedgerPolicy
from mynth_core.limits import CHAT_REPLY_ZERO_COST, RateLimiter, check
from mynth_core.personas.writer import charge_key, end_user_hash
from mynth_core.pricing import ChatMode, Operation, PriceTable
from mynth_core.uow import UnitOfWorkFactory

REPLY_TIMEOUT: Final = 120.0  # seconds, §6.9
FIRST_TOKEN_TIMEOUT: Final = 30.0
LEASE_TTL: Final = timedelta(seconds=REPLY_TIMEOUT + 30)


@attrs.frozen(kw_only=True)
class ReplyResult:
    """The stored messages of one operation and the caller's balance afterwards."""

    user_message: Message | None
    reply: Message
    balance: Balance
    siblings: Mapping[MessageId, Siblings] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Turn:
    """What one reply needs, decided before anything is charged."""

    chat: Chat
    parent_id: MessageId
    kind: ReplyKind
    new_user_message: Message | None = None
    continued: Message | None = None
    chapter: int | None = None


@attrs.frozen
class ChatReplies:
    """The engine every reply operation shares."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    guard: ChargeGuard
    prices: PriceTable
    balance: GetBalance
    limiter: RateLimiter
    writer: ChatWriter
    policy: LedgerPolicy

    def idle(self, chat: Chat) -> Chat:
        """The chat, if no generation holds it (checked again, atomically, by `run`).

        Raises:
            GenerationInProgressError: one does.
        """
        if chat.generating(self.clock.now()):
            raise GenerationInProgressError(detail="a generation is already running")
        return chat

    async def run(
        self, who: Principal, turn: Turn, *, idempotency_key: str | None
    ) -> Generation[ReplyResult]:
        """Claim the slot, charge, store the user message; return the reply's generation.

        Raises:
            UnknownModelError: the chat's model left the catalogue.
            RateLimitedError: a zero-cost model's bucket is full.
            GenerationInProgressError: another generation holds the chat.
            InsufficientTokensError: nothing was stored.
        """
        chat = turn.chat
        entry = self.writer.catalogue.entry(chat.settings.model)
        cost = self.prices.chat_cost(entry.id, chat.mode)
        if cost.value == 0:
            await check(self.limiter, who.user_id, CHAT_REPLY_ZERO_COST)
        key = charge_key(Operation.CHAT_REPLY, who.user_id, idempotency_key, self.ids)
        reply_id = MessageId(self.ids.new(MESSAGE))
        now = self.clock.now()
        lease = Lease(reply_id, now + LEASE_TTL)
        async with self.uow() as uow:
            # A reply whose process died left its lease to expire: settle it first. The chat
            # as this request read it will do: an expired lease is 150 s old, settling
            # checks for the stored reply here, refunds at most once, and releases only
            # that lease.
            await settle_abandoned_reply(uow, chat, at=now, policy=self.policy, ids=self.ids)
            if not await uow.chats.claim_generation(chat.id, lease, at=now):
                raise GenerationInProgressError(detail="a generation is already running")
            await uow.commit()
        try:
            stack, held = await hold_charge(
                self.guard,
                user=who.user_id,
                operation=Operation.CHAT_REPLY,
                cost=cost,
                key=key,
                reference=Reference(MESSAGE_REFERENCE, reply_id),
            )
            if turn.new_user_message is not None:
                await self._store_user_message(chat, turn.new_user_message, stack)
        except BaseException:
            await self._release(chat.id, lease.id)
            raise
        trace = Trace(
            operation=Operation.CHAT_REPLY,
            models=entry.routing(),
            persona_id=chat.pin.persona_id,
            version_id=chat.pin.version_id,
            chat_id=chat.id,
            message_id=reply_id,
            tokens_charged=charged_amount(held),
        )
        body = self._write(
            who=who, turn=turn, reply_id=reply_id, lease=lease, stack=stack, trace=trace
        )
        return Generation(logged(self.writer.log, trace, body))

    async def _store_user_message(
        self, chat: Chat, message: Message, stack: AsyncExitStack
    ) -> None:
        try:
            async with self.uow() as uow:
                await uow.chats.add_message(message)
                await uow.chats.save(
                    attrs.evolve(chat, leaf_id=message.id, updated_at=message.created_at)
                )
                await uow.commit()
        except BaseException as exc:
            await stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def _release(self, chat_id: ChatId, lease_id: str) -> None:
        async with self.uow() as uow:
            await uow.chats.release_generation(chat_id, lease_id)
            await uow.commit()

    async def _write(  # noqa: PLR0913 - the facts prepared by run()
        self,
        *,
        who: Principal,
        turn: Turn,
        reply_id: MessageId,
        lease: Lease,
        stack: AsyncExitStack,
        trace: Trace,
    ) -> AsyncGenerator[Progress | ReplyResult, None]:
        chat = turn.chat
        stored: Message | None = None
        try:
            async with stack:
                user_id = turn.new_user_message.id if turn.new_user_message else None
                yield MessagesCreated(user_id, reply_id)
                prompt = await self.writer.prompt(chat, turn)
                request = ChatRequest(
                    messages=prompt.messages,
                    models=self.writer.catalogue.entry(chat.settings.model).routing(),
                    max_tokens=prompt.max_output_tokens,
                    timeout=REPLY_TIMEOUT,
                    first_token_timeout=FIRST_TOKEN_TIMEOUT,
                    user=end_user_hash(who.user_id),
                )
                heading = (
                    StoryHeading(turn.chapter) if turn.chapter and not turn.continued else None
                )
                completion: Completion | None = None
                async with aclosing(self.writer.model.stream(request)) as items:
                    async for item in items:
                        if isinstance(item, Completion):
                            completion = item
                        elif isinstance(item, TextDelta):
                            trace.first_token()
                            for event in _pieces(item.text, heading):
                                yield event
                if heading is not None:
                    for event in heading.flush():
                        yield event
                assert completion is not None  # noqa: S101 - the port ends with one
                trace.completion, trace.attempts = completion, completion.attempts
                stored = await self._store_reply(turn, reply_id, completion, heading, lease)
        finally:
            if stored is None:
                await self._release(chat.id, lease.id)
        yield await self.result(who, turn.new_user_message, stored)

    async def result(
        self, who: Principal, user_message: Message | None, reply: Message
    ) -> ReplyResult:
        """What an operation stored, with the messages' siblings and the caller's balance."""
        stored = [m for m in (user_message, reply) if m is not None]
        async with self.uow(read_only=True) as uow:
            siblings = await uow.chats.siblings(reply.chat_id, stored)
        return ReplyResult(
            user_message=user_message,
            reply=reply,
            balance=await self.balance(who.user_id),
            siblings=siblings,
        )

    async def _store_reply(
        self,
        turn: Turn,
        reply_id: MessageId,
        completion: Completion,
        heading: StoryHeading | None,
        lease: Lease,
    ) -> Message:
        chat = turn.chat
        if heading is not None:
            text = heading.body(completion.text)
        elif turn.continued is not None:  # keep a leading paragraph break of the continuation
            text = completion.text.rstrip()
        else:
            text = completion.text.strip()
        if not text.strip():
            raise GenerationEmptyError("the model's reply was empty")
        if turn.continued is not None:
            text = f"{turn.continued.content}{_joiner(turn.continued.content, text)}{text}"
        chapter = None
        if chat.mode is ChatMode.STORY:
            chapter = (
                turn.continued.chapter if turn.continued else heading.chapter() if heading else None
            )
        at = self.clock.now()
        reply = Message(
            id=reply_id,
            chat_id=chat.id,
            parent_id=turn.parent_id,
            role=Role.ASSISTANT,
            content=text,
            created_at=at,
            kind=turn.kind,
            mode=chat.mode,
            persona_version_id=chat.pin.version_id,
            model=completion.model,
            usage=completion.usage,
            cost=self.prices.chat_cost(chat.settings.model, chat.mode).value,
            chapter=chapter,
        )
        async with self.uow() as uow:
            current = await uow.chats.get(chat.id, owner=chat.owner_id)
            await uow.chats.add_message(reply)
            await uow.chats.save(attrs.evolve(current, leaf_id=reply.id, updated_at=at))
            await uow.chats.release_generation(chat.id, lease.id)
            await uow.commit()
        return reply


def _pieces(text: str, heading: StoryHeading | None) -> list[Progress]:
    if heading is None:
        return [Delta(text)] if text else []
    return heading.feed(text)


def _joiner(before: str, after: str) -> str:
    if not before or not after or before[-1].isspace() or after[0].isspace():
        return ""
    return " "
