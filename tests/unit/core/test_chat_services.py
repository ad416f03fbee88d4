"""Chats over the core fakes: pinning, replies, charges and refunds, branches, chapters, budget."""

from __future__ import annotations

import attrs
import pytest
from chatkit import ALICE, BOB, World, events

from mynth_core.chats.catalogue import ChatCatalogue, ChatModelEntry
from mynth_core.chats.model import ChatSettings, Role
from mynth_core.chats.operations import ContinueReply, EditMessage, RegenerateReply, SendMessage
from mynth_core.chats.progress import ChapterStarted, Delta, MessagesCreated
from mynth_core.chats.services import ChatPatch, SwitchLeaf, UpdateChat
from mynth_core.errors import (
    GenerationEmptyError,
    GenerationInProgressError,
    InsufficientTokensError,
    NotFoundError,
    ProviderUnavailableError,
    UnknownModelError,
)
from mynth_core.pricing import ChatMode, PriceTable
from mynth_core.testing import Reply


@pytest.fixture
def world() -> World:
    return World()


async def test_a_chat_pins_the_current_version_of_an_own_persona(world) -> None:
    persona = await world.persona()

    chat = await world.create(ALICE, persona.id)

    assert chat.pin.version_id == persona.current_version_id
    assert chat.title == persona.current_version.data.name
    assert chat.mode is ChatMode.ROLEPLAY
    assert chat.settings.model == world.catalogue.default


async def test_someone_elses_private_persona_cannot_be_chatted_with(world) -> None:
    persona = await world.persona(BOB)

    with pytest.raises(NotFoundError):
        await world.create(ALICE, persona.id)


async def test_a_model_outside_the_catalogue_is_refused(world) -> None:
    persona = await world.persona()

    with pytest.raises(UnknownModelError):
        await world.create(ALICE, persona.id, settings=ChatSettings(model="no/such"))


async def test_a_reply_streams_deltas_then_stores_both_messages_and_charges(world) -> None:
    chat = await world.chat()

    *progress, result = await events(await world.send(ALICE, chat.id, "Hi!"))

    assert isinstance(progress[0], MessagesCreated)
    assert "".join(p.text for p in progress if isinstance(p, Delta)) == "Hello there."
    assert result.user_message.content == "Hi!"
    assert result.reply.content == "Hello there."
    assert result.reply.parent_id == result.user_message.id
    assert result.reply.cost == 1
    assert result.balance.total == 9
    thread = await world.thread(chat)
    assert [m.role for m in thread.messages] == [Role.USER, Role.ASSISTANT]
    assert thread.leaf_id == result.reply.id


async def test_a_second_generation_in_the_same_chat_is_refused(world) -> None:
    chat = await world.chat()
    running = await world.send(ALICE, chat.id, "one")

    with pytest.raises(GenerationInProgressError):
        await world.send(ALICE, chat.id, "two")
    await running.result()
    await (await world.send(ALICE, chat.id, "three")).result()


async def test_without_tokens_nothing_is_stored_and_the_slot_is_free(world) -> None:
    chat = await world.chat()
    await world.spend(10, "everything")
    before = world.counts()

    with pytest.raises(InsufficientTokensError):
        await world.send(ALICE, chat.id, "Hi!")

    assert world.counts() == before
    assert not world.uow.store.chats.chats[chat.id].generating(world.clock.now())


@pytest.mark.parametrize(
    "reply",
    [
        Reply(error=ProviderUnavailableError("down")),
        Reply("partial text", error=ProviderUnavailableError("cut"), fail_after=1),
        Reply("   "),
    ],
)
async def test_a_failed_reply_refunds_keeps_the_user_message_and_frees_the_slot(
    world, reply
) -> None:
    chat = await world.chat()
    world.model.script(reply)

    generation = await world.send(ALICE, chat.id, "Hi!")
    with pytest.raises((ProviderUnavailableError, GenerationEmptyError)):
        await generation.result()

    assert (await world.balance()).total == 10
    thread = await world.thread(chat)
    assert [m.content for m in thread.messages] == ["Hi!"]
    assert not world.uow.store.chats.chats[chat.id].generating(world.clock.now())


async def test_regenerate_adds_a_sibling_reply(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    world.model.script("Another answer.")

    again = await (
        await RegenerateReply(world.uow, world.replies)(ALICE, chat.id, first.reply.id)
    ).result()

    thread = await world.thread(chat)
    assert again.reply.parent_id == first.reply.parent_id
    assert thread.messages[-1].content == "Another answer."
    assert thread.siblings[again.reply.id].count == 2
    assert thread.siblings[again.reply.id].index == 1


async def test_editing_a_user_message_adds_a_sibling_and_a_reply(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    edit = EditMessage(world.uow, world.clock, world.ids, world.replies)

    edited = await (await edit(ALICE, chat.id, first.user_message.id, "Hello!")).result()

    assert edited.user_message.parent_id == first.user_message.parent_id
    thread = await world.thread(chat)
    assert [m.content for m in thread.messages] == ["Hello!", "Hello there."]
    assert thread.siblings[edited.user_message.id].count == 2


async def test_editing_a_reply_is_free_and_needs_no_model(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    calls = len(world.model.requests)
    edit = EditMessage(world.uow, world.clock, world.ids, world.replies)

    edited = await (await edit(ALICE, chat.id, first.reply.id, "Better words.")).result()

    assert edited.reply.content == "Better words."
    assert edited.reply.cost == 0
    assert len(world.model.requests) == calls
    assert (await world.balance()).total == 9


async def test_continue_extends_the_active_reply_as_a_sibling(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    world.model.script("And more.")

    more = await (await ContinueReply(world.uow, world.replies)(ALICE, chat.id)).result()

    assert more.reply.content == "Hello there. And more."
    assert more.reply.parent_id == first.reply.parent_id


async def test_switching_the_leaf_descends_through_newest_children(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    await (await world.send(ALICE, chat.id, "And then?")).result()

    switched = await SwitchLeaf(world.uow)(ALICE, chat.id, first.user_message.id)

    thread = await world.thread(chat)
    assert switched.leaf_id == thread.messages[-1].id
    assert [m.content for m in thread.messages][-2:] == ["And then?", "Hello there."]


async def test_story_replies_are_numbered_chapters_without_their_heading(world) -> None:
    chat = await world.chat(mode=ChatMode.STORY)
    world.model.script("# Chapter 1: The Storm\nRain fell.", "Chapter 2 - Calm\nThe sea slept.")

    *progress, one = await events(await world.send(ALICE, chat.id, "Begin"))
    two = await (await world.send(ALICE, chat.id, "Go on")).result()

    assert ChapterStarted(1, "The Storm") in progress
    assert one.reply.content == "Rain fell."
    assert (one.reply.chapter.number, one.reply.chapter.title) == (1, "The Storm")
    assert (two.reply.chapter.number, two.reply.chapter.title) == (2, "Calm")
    assert one.reply.cost == 2


async def test_regenerating_a_chapter_keeps_its_number(world) -> None:
    chat = await world.chat(mode=ChatMode.STORY)
    world.model.script("Chapter 1: A\nx", "Chapter 2: B\ny", "Chapter 2: B again\nz")
    await (await world.send(ALICE, chat.id, "Begin")).result()
    second = await (await world.send(ALICE, chat.id, "Go on")).result()

    again = await (
        await RegenerateReply(world.uow, world.replies)(ALICE, chat.id, second.reply.id)
    ).result()

    assert again.reply.chapter.number == 2


async def test_switching_mode_applies_to_the_next_reply(world) -> None:
    chat = await world.chat()
    await (await world.send(ALICE, chat.id, "Hi")).result()
    await UpdateChat(world.uow, world.clock, world.catalogue)(
        ALICE, chat.id, ChatPatch(mode=ChatMode.STORY)
    )
    world.model.script("Chapter 1: Turn\nStory now.")

    result = await (await world.send(ALICE, chat.id, "Narrate")).result()

    assert result.reply.mode is ChatMode.STORY
    assert result.reply.chapter.number == 1


async def test_the_prompt_stays_within_budget_and_carries_a_rolling_summary(world) -> None:
    small = ChatModelEntry(id="tiny/model", display_name="Tiny", context_window=4096)
    world.catalogue = ChatCatalogue(entries=(small,), default="tiny/model", max_prompt_tokens=1500)
    prices = PriceTable(
        chat_models=(("tiny/model", PriceTable().chat_models[0][1]),),
        default_chat_model="tiny/model",
    )
    chat = await world.chat()
    replies = attrs.evolve(world.replies, prices=prices)
    world.model.default = "A reply of some length that keeps the story moving along nicely. " * 3
    await world.buy(10_000, "order-1")
    for turn in range(300):
        await (
            await SendMessage(world.uow, world.clock, world.ids, replies)(
                ALICE, chat.id, f"Turn {turn}: " + "words " * 30
            )
        ).result()

    last = world.model.requests[-1]
    size = sum(len(m.content) // 3 + 5 for m in last.messages)
    assert size <= 1500
    assert any("chat_summary_block" in m.content for m in last.messages)
    assert world.uow.store.chats.summaries
