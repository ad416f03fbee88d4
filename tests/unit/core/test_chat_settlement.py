"""Chat replies that died with their process (core fakes): refunded once, then the slot is free.

`dead_reply` leaves exactly what `ChatReplies.run` writes before the model is called (the
lease named after the reply, the user message, the charge referencing the reply) and then
nothing more, as a process killed at that moment would.
"""

from __future__ import annotations

import pytest
from chatkit import ALICE, World

from mynth_core.chats.model import Chat, Lease
from mynth_core.chats.replies import LEASE_TTL
from mynth_core.chats.settlement import MESSAGE_REFERENCE, SettleAbandonedReplies
from mynth_core.errors import ProviderUnavailableError
from mynth_core.ids import MessageId
from mynth_core.ledger.model import EntryKind, LedgerEntry, Reference, TokenAmount
from mynth_core.pricing import Operation
from mynth_core.testing import Reply


@pytest.fixture
def world() -> World:
    return World()


def sweep(world: World) -> SettleAbandonedReplies:
    return SettleAbandonedReplies(world.uow, world.clock, world.ids, world.policy)


def refunds(entries: list[LedgerEntry]) -> list[str | None]:
    return [e.reason for e in entries if e.kind is EntryKind.REFUND]


def after_the_lease(world: World) -> None:
    world.clock.advance(LEASE_TTL.total_seconds() + 1)


async def hold(world: World, chat: Chat, reply_id: str) -> None:
    """Put a lease named after `reply_id` on the chat (what a reply's claim writes)."""
    lease = Lease(reply_id, world.clock.now() + LEASE_TTL)
    async with world.uow() as uow:
        assert await uow.chats.claim_generation(chat.id, lease, at=world.clock.now())
        await uow.commit()


async def dead_reply(world: World, chat: Chat) -> MessageId:
    """A reply claimed and charged whose process then died; returns the reply's id."""
    reply_id = MessageId("msg_dead_reply")
    await hold(world, chat, reply_id)
    await world.charge(
        ALICE.user_id,
        Operation.CHAT_REPLY,
        TokenAmount(1),
        key="chat_reply:alice:dead",
        reference=Reference(MESSAGE_REFERENCE, reply_id),
    )
    return reply_id


async def test_a_dead_reply_is_refunded_by_the_sweep_once_its_lease_expired(world) -> None:
    chat = await world.chat()
    await dead_reply(world, chat)
    assert (await world.balance()).total == 9

    assert await sweep(world)() == 0  # the lease still holds: the reply may be running
    after_the_lease(world)
    assert await sweep(world)() == 1
    assert await sweep(world)() == 0

    assert (await world.balance()).total == 10
    assert refunds(await world.entries()) == ["abandoned"]
    assert world.uow.store.chats.chats[chat.id].generation is None


async def test_the_next_reply_in_the_chat_settles_a_dead_one_before_it_runs(world) -> None:
    chat = await world.chat()
    await dead_reply(world, chat)
    after_the_lease(world)

    result = await (await world.send(ALICE, chat.id, "Are you there?")).result()

    assert result.balance.total == 9  # the dead reply's token back, this reply's spent
    assert refunds(await world.entries()) == ["abandoned"]
    assert world.uow.store.chats.chats[chat.id].generation is None
    assert await sweep(world)() == 0


async def test_a_reply_runs_under_a_lease_named_after_it(world) -> None:
    chat = await world.chat()
    generation = await world.send(ALICE, chat.id, "Hi!")
    lease = world.uow.store.chats.chats[chat.id].generation

    result = await generation.result()

    assert lease is not None
    assert lease.id == result.reply.id
    spends = [e for e in await world.entries() if e.kind is EntryKind.SPEND]
    assert spends[-1].reference == Reference(MESSAGE_REFERENCE, result.reply.id)


async def test_a_stored_reply_is_never_refunded_even_if_its_lease_was_left(world) -> None:
    chat = await world.chat()
    result = await (await world.send(ALICE, chat.id, "Hi!")).result()
    await hold(world, chat, result.reply.id)  # as if releasing the lease had been lost
    after_the_lease(world)

    assert await sweep(world)() == 0

    assert (await world.balance()).total == 9
    assert refunds(await world.entries()) == []
    assert world.uow.store.chats.chats[chat.id].generation is None


async def test_a_failed_reply_refunded_already_is_not_refunded_again(world) -> None:
    chat = await world.chat()
    world.model.script(Reply(error=ProviderUnavailableError("down")))
    generation = await world.send(ALICE, chat.id, "Hi!")
    with pytest.raises(ProviderUnavailableError):
        await generation.result()
    (spend,) = [e for e in await world.entries() if e.kind is EntryKind.SPEND]
    assert spend.reference is not None
    await hold(world, chat, spend.reference.id)  # as if its release had been lost
    after_the_lease(world)

    assert await sweep(world)() == 0

    assert (await world.balance()).total == 10
    assert refunds(await world.entries()) == ["failed"]
