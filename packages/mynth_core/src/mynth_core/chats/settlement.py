"""Settle chat replies that died with their process (PRODUCT.md §12).

A reply claims its chat's generation lease (whose id is the reply's message id), charges,
and when it ends either stores the reply and releases the lease, or refunds and releases.
A process killed mid-reply does neither: the lease stays until it expires, and the charge
stays open. Such a reply is settled the first time anyone looks after the lease expired:
the next reply in the same chat does it before it claims the lease, and
`SettleAbandonedReplies` (every instance, each minute) does it for chats nobody writes to.
Settling refunds the reply's charge unless the reply was stored (`Refund` refunds a spend
at most once, so concurrent settlers never refund twice), then releases the lease.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

import attrs

from mynth_core.chats.model import Chat
from mynth_core.clock import Clock
from mynth_core.errors import NotFoundError
from mynth_core.ids import IdFactory, MessageId
from mynth_core.ledger.model import EntryKind, Reference
from mynth_core.ledger.services import LedgerPolicy, refund_in
from mynth_core.personas.settlement import ABANDONED_REASON
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

MESSAGE_REFERENCE: Final = "message"  # a reply's charge references the reply to be
BATCH: Final = 100

_log = logging.getLogger(__name__)


async def settle_abandoned_reply(
    uow: UnitOfWork, chat: Chat, *, at: datetime, policy: LedgerPolicy, ids: IdFactory
) -> bool:
    """Settle `chat`'s reply if its lease expired unreleased, in the open unit of work.

    Returns whether a charge was refunded here (False when the lease is live or free, the
    reply was stored, it cost nothing, or it was refunded already).
    """
    lease = chat.generation
    if lease is None or lease.expires_at > at:
        return False
    refunded = False
    if not await _stored(uow, chat, MessageId(lease.id)):
        reference = Reference(MESSAGE_REFERENCE, lease.id)
        for entry in await uow.ledger.for_reference(chat.owner_id, reference):
            if entry.kind is EntryKind.SPEND:
                refund = await refund_in(
                    uow,
                    entry.idempotency_key,
                    at=at,
                    reason=ABANDONED_REASON,
                    policy=policy,
                    ids=ids,
                )
                refunded = refunded or refund.created_at == at
    await uow.chats.release_generation(chat.id, lease.id)
    return refunded


async def _stored(uow: UnitOfWork, chat: Chat, reply_id: MessageId) -> bool:
    try:
        await uow.chats.message(chat.id, reply_id)
    except NotFoundError:
        return False
    return True


@attrs.frozen
class SettleAbandonedReplies:
    """Settle the replies whose process died in chats nobody has written to since."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy

    async def __call__(self, *, limit: int = BATCH) -> int:
        """Settle up to `limit` chats with an expired, unreleased lease; return the refunds."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            held = await uow.chats.expired_generations(before=now, limit=limit)
        refunded = 0
        for chat in held:
            async with self.uow() as uow:
                try:
                    current = await uow.chats.get(chat.id, owner=chat.owner_id)
                except NotFoundError:
                    continue  # deleted meanwhile
                if await settle_abandoned_reply(
                    uow, current, at=now, policy=self.policy, ids=self.ids
                ):
                    refunded += 1
                await uow.commit()
        if refunded:
            _log.info("abandoned chat reply charges refunded: %d", refunded)
        return refunded
