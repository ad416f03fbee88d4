"""The chat message tree (PRODUCT.md §6.3, §6.5, §6.8-6.11) over the core fakes.

Random sends, regenerates, edits, continues, failures, leaf switches and mode switches keep
the tree whole; chapters number along a branch; rolling summaries stay on theirs; zero-cost
models are rate limited; a failed reply leaves a user message that regenerate answers.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from datetime import timedelta
from itertools import pairwise
from typing import Any, TypeVar

import attrs
import pytest
from chatkit import ALICE, SUMMARY, World, events
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mynth_core.chats.catalogue import ChatCatalogue, ChatModelEntry
from mynth_core.chats.model import Chapter, Chat, ChatSettings, Message, ReplyKind, Role
from mynth_core.chats.ports import Siblings
from mynth_core.chats.progress import ChapterStarted, Delta, MessagesCreated
from mynth_core.chats.prompting import SUMMARY_MODELS
from mynth_core.chats.replies import ReplyResult
from mynth_core.chats.services import THREAD_MAX, ChatPatch
from mynth_core.errors import ProviderUnavailableError, RateLimitedError, ValidationError
from mynth_core.generation.ports import ChatRequest
from mynth_core.generation.runs import Generation, Outcome
from mynth_core.ids import ChatId, MessageId
from mynth_core.ledger.model import EntryKind
from mynth_core.limits import CHAT_REPLY_ZERO_COST
from mynth_core.pricing import ChatMode, PriceTable
from mynth_core.testing import Reply, ScriptedChatModel
from mynth_core.testing.chats import ChatStore

T = TypeVar("T")
PURCHASED = 100_000
DAILY_FREE = 10
FAILURES = (
    Reply(error=ProviderUnavailableError("down")),
    Reply("Half a scene\nthat breaks off", error=ProviderUnavailableError("cut"), fail_after=2),
)
DOLPHIN = "cognitivecomputations/dolphin-mistral-24b-venice-edition"


@pytest.fixture
def world() -> World:
    return World()


async def collect(generation: Generation[ReplyResult], into: list[object]) -> None:
    async for event in generation.events:
        into.append(event)  # noqa: PERF401 - keeps what streamed before a failure


async def run_to_end(generation: Generation[ReplyResult]) -> ReplyResult:
    return await generation.result()


# --- 1. Properties of the message tree ------------------------------------------------------


@attrs.frozen
class Tree:
    """A chat's messages as the store holds them, with children oldest first."""

    by_id: dict[MessageId, Message]
    kids: dict[MessageId | None, list[Message]]

    @classmethod
    def of(cls, store: ChatStore, chat_id: ChatId) -> Tree:
        by_id = {m.id: m for m in store.messages.values() if m.chat_id == chat_id}
        kids: dict[MessageId | None, list[Message]] = {}
        for message in sorted(by_id.values(), key=lambda m: (m.created_at, m.id)):
            kids.setdefault(message.parent_id, []).append(message)
        return cls(by_id, kids)

    def ids(self, role: Role | None = None) -> list[MessageId]:
        return [m.id for m in self.by_id.values() if role is None or m.role is role]

    def children(self, parent_id: MessageId | None) -> list[Message]:
        return self.kids.get(parent_id, [])

    def siblings(self, message: Message) -> Siblings:
        kin = [k.id for k in self.children(message.parent_id)]
        return Siblings(count=len(kin), index=kin.index(message.id))

    def branch(self, leaf_id: MessageId) -> list[Message]:
        """Root → `leaf_id`, walked by parent ids through this chat's messages only."""
        found: list[Message] = []
        current: MessageId | None = leaf_id
        while current is not None:
            found.append(self.by_id[current])
            current = found[-1].parent_id
            assert len(found) <= len(self.by_id), "a cycle of parents"
        return found[::-1]

    def spent(self) -> int:
        return sum(m.cost for m in self.by_id.values())


class ChatTree(RuleBasedStateMachine):
    """One chat under random operations; the clock moves a second before each."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.world = World()
        self.chat_id = self.run(self._start())
        self.created: set[MessageId] = set()
        self.by_the_user = 0  # user messages sent or edited, and replies edited
        self.generated = 0  # successful replies
        self.serial = 0

    async def _start(self) -> ChatId:
        await self.world.buy(PURCHASED, "order-1")
        return (await self.world.chat()).id

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def teardown(self) -> None:
        self.runner.close()

    # -- reading the store

    @property
    def store(self) -> ChatStore:
        return self.world.uow.store.chats  # type: ignore[attr-defined,no-any-return]

    def tree(self) -> Tree:
        return Tree.of(self.store, self.chat_id)

    def has_messages(self) -> bool:
        return bool(self.store.messages)

    def chat(self) -> Chat:
        return self.store.chats[self.chat_id]

    def leaf(self) -> Message | None:
        leaf_id = self.chat().leaf_id
        return None if leaf_id is None else self.store.messages[leaf_id]

    # -- scripting the model

    def _content(self) -> str:
        self.serial += 1
        return f"User line {self.serial}"

    def _script(self, *, fails: int | None, continuing: bool = False) -> str | None:
        """Queue the next chat reply: failure number `fails`, else a fresh text (returned)."""
        if fails is not None:
            self.world.model.script(FAILURES[fails])
            return None
        self.serial += 1
        text = (
            f"and then {self.serial} more."
            if continuing
            else f"Scene {self.serial}\nLine {self.serial} of the tale."
        )
        self.world.model.script(text)
        return text

    def _generate(
        self,
        start: Callable[[], Coroutine[Any, Any, Generation[ReplyResult]]],
        *,
        fails: int | None,
        continued: Message | None = None,
    ) -> ReplyResult | None:
        """Run one charged reply; check its text and the new leaf. None if it failed.

        Refunds are checked by the balance invariant: only stored replies are paid for.
        """
        text = self._script(fails=fails, continuing=continued is not None)
        generation = self.run(start())
        if text is None:
            with pytest.raises(ProviderUnavailableError):
                self.run(run_to_end(generation))
            assert not self.world.model.replies
            return None
        result = self.run(run_to_end(generation))
        assert not self.world.model.replies
        self.generated += 1
        chat, reply, tree = self.chat(), result.reply, self.tree()
        assert chat.leaf_id == reply.id  # (iv) the new reply is the active leaf
        assert reply.role is Role.ASSISTANT
        assert reply.mode is chat.mode
        assert reply.cost == self.world.prices.chat_cost(chat.settings.model, chat.mode).value
        assert result.balance.total == PURCHASED + DAILY_FREE - tree.spent()
        if continued is not None:
            assert reply.kind is ReplyKind.CONTINUE
            assert reply.parent_id == continued.parent_id
            assert reply.content == f"{continued.content} {text}"
            assert reply.chapter == (continued.chapter if chat.mode is ChatMode.STORY else None)
        elif chat.mode is ChatMode.STORY:
            heading, body = text.split("\n")
            assert reply.content == body
            assert reply.chapter is not None
            assert reply.chapter.title == heading
        else:
            assert reply.content == text
            assert reply.chapter is None
        for message in (result.user_message, reply):
            if message is not None:
                assert result.siblings[message.id] == tree.siblings(message)
        return result

    # -- rules

    @rule(
        data=st.data(),
        where=st.sampled_from(("leaf", "assistant", "root")),
        fails=st.sampled_from((None, None, None, 0, 1)),
    )
    def send(self, data: st.DataObject, where: str, fails: int | None) -> None:
        self.world.clock.advance(1)
        leaf = self.leaf()
        content = self._content()
        if where == "leaf" and leaf is not None and leaf.role is Role.USER:
            before = self.world.counts()  # a user message is answered by regenerate only
            with pytest.raises(ValidationError):
                self.run(self.world.send(ALICE, self.chat_id, content))
            assert self.world.counts() == before
            return
        if where == "leaf":
            parent = None if leaf is None else leaf.id
        else:
            assistants = self.tree().ids(Role.ASSISTANT)
            parent = (
                data.draw(st.sampled_from(assistants))
                if where == "assistant" and assistants
                else None
            )
        result = self._generate(
            lambda: self.world.send(
                ALICE, self.chat_id, content, parent_id=parent, use_active_leaf=False
            ),
            fails=fails,
        )
        self.by_the_user += 1
        self._user_message_stored(result, content=content, parent=parent)

    def _user_message_stored(
        self, result: ReplyResult | None, *, content: str, parent: MessageId | None
    ) -> None:
        if result is None:  # the user message stays, as the active leaf
            leaf = self.leaf()
            assert leaf is not None
            assert (leaf.role, leaf.content, leaf.parent_id) == (Role.USER, content, parent)
            return
        user = result.user_message
        assert user is not None
        assert (user.content, user.parent_id) == (content, parent)
        assert (result.reply.kind, result.reply.parent_id) == (ReplyKind.REPLY, user.id)

    @precondition(lambda self: self.has_messages())
    @rule(data=st.data(), fails=st.sampled_from((None, None, None, 0, 1)))
    def regenerate(self, data: st.DataObject, fails: int | None) -> None:
        self.world.clock.advance(1)
        target = self.store.messages[data.draw(st.sampled_from(self.tree().ids()))]
        leaf_before = self.chat().leaf_id
        result = self._generate(
            lambda: self.world.regenerate(ALICE, self.chat_id, target.id), fails=fails
        )
        if result is None:
            assert self.chat().leaf_id == leaf_before
            return
        reply = result.reply
        assert result.user_message is None
        if target.role is Role.USER:
            assert (reply.kind, reply.parent_id) == (ReplyKind.REPLY, target.id)
        else:
            assert (reply.kind, reply.parent_id) == (ReplyKind.REGENERATE, target.parent_id)
            if target.chapter is not None and self.chat().mode is ChatMode.STORY:
                assert reply.chapter is not None
                assert reply.chapter.number == target.chapter.number  # the number is kept

    @precondition(lambda self: self.has_messages())
    @rule(data=st.data(), fails=st.sampled_from((None, None, None, 0, 1)))
    def edit(self, data: st.DataObject, fails: int | None) -> None:
        self.world.clock.advance(1)
        target = self.store.messages[data.draw(st.sampled_from(self.tree().ids()))]
        content = self._content()
        if target.role is Role.ASSISTANT:  # a sibling with the new text, free and model-less
            calls, spent = len(self.world.model.requests), self.tree().spent()
            edited = self.run(
                run_to_end(self.run(self.world.edit(ALICE, self.chat_id, target.id, content)))
            ).reply
            self.by_the_user += 1
            assert (edited.content, edited.parent_id, edited.cost) == (
                content,
                target.parent_id,
                0,
            )
            assert (edited.kind, edited.chapter, edited.mode) == (
                target.kind,
                target.chapter,
                target.mode,
            )
            assert self.chat().leaf_id == edited.id
            assert len(self.world.model.requests) == calls
            assert self.tree().spent() == spent
            return
        result = self._generate(
            lambda: self.world.edit(ALICE, self.chat_id, target.id, content), fails=fails
        )
        self.by_the_user += 1
        self._user_message_stored(result, content=content, parent=target.parent_id)

    @precondition(lambda self: (leaf := self.leaf()) is not None and leaf.role is Role.ASSISTANT)
    @rule(fails=st.sampled_from((None, None, None, 0, 1)))
    def continue_the_leaf(self, fails: int | None) -> None:
        self.world.clock.advance(1)
        leaf = self.leaf()
        result = self._generate(
            lambda: self.world.continue_reply(ALICE, self.chat_id), fails=fails, continued=leaf
        )
        if result is None:
            assert self.chat().leaf_id == leaf.id  # type: ignore[union-attr]

    @precondition(lambda self: self.has_messages())
    @rule(data=st.data())
    def switch_leaf(self, data: st.DataObject) -> None:
        self.world.clock.advance(1)
        tree = self.tree()
        target = data.draw(st.sampled_from(tree.ids()))
        switched = self.run(self.world.switch(ALICE, self.chat_id, target))
        expected = target  # down through the newest children
        while kids := tree.children(expected):
            expected = kids[-1].id
        assert switched.leaf_id == self.chat().leaf_id == expected

    @rule(mode=st.sampled_from(ChatMode))
    def switch_mode(self, mode: ChatMode) -> None:
        self.world.clock.advance(1)
        self.run(self.world.update(ALICE, self.chat_id, ChatPatch(mode=mode)))

    # -- invariants

    @invariant()
    def the_thread_runs_from_a_root_to_the_active_leaf(self) -> None:
        chat = self.chat()
        thread = self.run(self.world.thread(chat, limit=THREAD_MAX))
        assert thread.leaf_id == chat.leaf_id
        if chat.leaf_id is None:
            assert thread.messages == ()
            return
        messages = thread.messages
        assert len(messages) <= THREAD_MAX  # the whole branch fits: no paging needed here
        assert messages[0].parent_id is None
        for before, after in pairwise(messages):
            assert after.parent_id == before.id
        assert messages[-1].id == chat.leaf_id
        tree = self.tree()
        assert list(messages) == tree.branch(chat.leaf_id)
        assert not tree.children(chat.leaf_id)  # the active leaf is a leaf
        for message in messages:  # (ii) siblings as the store has them, oldest first
            assert thread.siblings[message.id] == tree.siblings(message)

    @invariant()
    def no_message_is_ever_lost(self) -> None:
        tree = self.tree()
        ids = set(tree.ids())
        assert self.created <= ids  # (iii) the store only grows
        self.created = ids
        assert len(ids) == self.by_the_user + self.generated
        assert (self.chat().leaf_id is None) == (not ids)
        reachable: set[MessageId] = set()  # every message lies on the branch of some leaf
        for message in tree.by_id.values():
            if not tree.children(message.id):
                reachable.update(m.id for m in tree.branch(message.id))
        assert reachable == ids

    @invariant()
    def the_slot_is_free_and_only_stored_replies_were_paid_for(self) -> None:
        assert not self.chat().generating(self.world.clock.now())
        total = self.run(self.world.balance()).total
        assert total == PURCHASED + DAILY_FREE - self.tree().spent()  # failures were refunded

    @invariant()
    def chapters_number_along_their_branch(self) -> None:
        tree = self.tree()
        for message in tree.by_id.values():
            if message.role is Role.USER:
                assert (message.kind, message.chapter, message.mode) == (None, None, None)
                continue
            if message.mode is ChatMode.ROLEPLAY:
                assert message.chapter is None
            elif message.kind is not ReplyKind.CONTINUE:
                assert message.chapter is not None
            if message.chapter is not None:
                above = [m.chapter for m in tree.branch(message.id)[:-1] if m.chapter]
                assert message.chapter.number == (above[-1].number + 1 if above else 1)


ChatTree.TestCase.settings = settings(deadline=None)
test_the_message_tree_stays_whole = ChatTree.TestCase


# --- 2. Chapters number along the branch ----------------------------------------------------


def system_chapter(request: ChatRequest) -> int:
    assert request.messages[0].content == "template: chat_story"
    return json.loads(request.messages[1].content)["chapter"]  # type: ignore[no-any-return]


async def answer(
    world: World, scripted: str, operation: Coroutine[Any, Any, Generation[ReplyResult]]
) -> ReplyResult:
    """A second later, `operation` run to its result, the model answering `scripted`."""
    world.clock.advance(1)
    world.model.script(scripted)
    return await (await operation).result()


async def test_chapters_number_along_the_branch(world) -> None:
    chat = await world.chat(mode=ChatMode.STORY)
    await world.buy(100, "order-1")
    one = await answer(world, "Chapter 1: Dawn\na", world.send(ALICE, chat.id, "Begin"))
    two = await answer(world, "Chapter 2: Noon\nb", world.send(ALICE, chat.id, "Go on"))
    three = await answer(world, "Chapter 3: Dusk\nc", world.send(ALICE, chat.id, "And on"))
    assert [r.reply.chapter.number for r in (one, two, three)] == [1, 2, 3]

    world.clock.advance(1)  # a new branch from the user message before chapter 2
    world.model.script("Chapter 4: Elsewhere\nb'")  # the model's own number never counts
    *progress, edited = await events(
        await world.edit(ALICE, chat.id, two.user_message.id, "Go elsewhere")
    )
    assert edited.reply.chapter == Chapter(2, "Elsewhere")
    assert ChapterStarted(2, "Elsewhere") in progress
    assert system_chapter(world.model.requests[-1]) == 2

    again = await answer(
        world, "Chapter 2: Elsewhere again\nb''", world.regenerate(ALICE, chat.id, edited.reply.id)
    )
    assert again.reply.chapter == Chapter(2, "Elsewhere again")  # regenerate keeps the number
    assert system_chapter(world.model.requests[-1]) == 2

    more = await answer(world, "and it went on.", world.continue_reply(ALICE, chat.id))
    assert more.reply.chapter == again.reply.chapter  # continue keeps number and title
    assert more.reply.content == "b'' and it went on."

    onwards = await answer(world, "Chapter 3: Onwards\nd", world.send(ALICE, chat.id, "Onwards"))
    assert onwards.reply.chapter == Chapter(3, "Onwards")

    await world.switch(ALICE, chat.id, three.reply.id)  # back to the first branch
    night = await answer(world, "Chapter 4: Night\ne", world.send(ALICE, chat.id, "Night"))
    assert night.reply.chapter == Chapter(4, "Night")

    await world.update(ALICE, chat.id, ChatPatch(mode=ChatMode.ROLEPLAY))
    talk = "Chapter 9: no heading in roleplay\nHi."
    plain = await answer(world, talk, world.send(ALICE, chat.id, "Talk"))
    assert (plain.reply.chapter, plain.reply.content) == (None, talk)

    await world.update(ALICE, chat.id, ChatPatch(mode=ChatMode.STORY))
    morning = await answer(world, "Chapter 5: Morning\nf", world.send(ALICE, chat.id, "Later"))
    assert morning.reply.chapter == Chapter(5, "Morning")  # the numbering carries on

    await world.switch(ALICE, chat.id, onwards.reply.id)  # the other branch counts its own
    far = await answer(world, "Chapter 4: Far away\ng", world.send(ALICE, chat.id, "Further"))
    assert far.reply.chapter == Chapter(4, "Far away")


async def test_regenerating_a_chapter_in_roleplay_writes_a_roleplay_reply(world) -> None:
    chat = await world.chat(mode=ChatMode.STORY)
    world.model.script("Chapter 1: Dawn\nThe sun rose.")
    story = await (await world.send(ALICE, chat.id, "Begin")).result()
    await world.update(ALICE, chat.id, ChatPatch(mode=ChatMode.ROLEPLAY))
    world.model.script("Hello.\nHow are you?")

    *progress, again = await events(await world.regenerate(ALICE, chat.id, story.reply.id))

    assert not [p for p in progress if isinstance(p, ChapterStarted)]
    assert "".join(p.text for p in progress if isinstance(p, Delta)) == "Hello.\nHow are you?"
    assert again.reply.content == "Hello.\nHow are you?"
    assert (again.reply.mode, again.reply.chapter) == (ChatMode.ROLEPLAY, None)
    assert world.model.requests[-1].messages[0].content == "template: chat_roleplay"


# --- 3. Rolling summaries stay on their branch ----------------------------------------------

MARK = re.compile(r"\[summary-\d{3}\]")
LONG_REPLY = "A reply of some length that keeps the story moving along nicely. " * 3


def marks(requests: list[ChatRequest]) -> set[str]:
    return {mark for r in requests for m in r.messages for mark in MARK.findall(m.content)}


def tiny_world(world: World) -> None:
    """A 1500-token prompt budget, and summaries that each carry a unique mark."""
    small = ChatModelEntry(id="tiny/model", display_name="Tiny", context_window=4096)
    world.catalogue = ChatCatalogue(entries=(small,), default="tiny/model", max_prompt_tokens=1500)
    world.prices = PriceTable(
        chat_models=(("tiny/model", PriceTable().chat_models[0][1]),),
        default_chat_model="tiny/model",
    )
    # A scripted model answers what it accepts from its queue and passes the rest (or all, once
    # its queue is empty) to its fallback: marked rolling summaries first in line, then the
    # one roleplay summary, then the replies (the last model's default text).
    replies = ScriptedChatModel(default=LONG_REPLY)
    roleplay = ScriptedChatModel(accepts=lambda r: r.schema is not None, fallback=replies)
    roleplay.script(SUMMARY)
    world.model = ScriptedChatModel(accepts=rolling_summary, fallback=roleplay)
    world.model.script(*(f"The story so far [summary-{n:03d}]: they met." for n in range(1, 1000)))


def rolling_summary(request: ChatRequest) -> bool:
    return request.models == SUMMARY_MODELS and request.schema is None


async def test_a_rolling_summary_stays_on_its_branch(world) -> None:
    tiny_world(world)
    chat = await world.create(ALICE, (await world.persona()).id)
    await world.buy(10_000, "order-1")
    anchors: dict[str, MessageId] = {}

    async def turn(operation: Coroutine[Any, Any, Generation[ReplyResult]]) -> ReplyResult:
        """One reply; every summary its requests carry lies on the reply's branch."""
        world.clock.advance(1)
        start = len(world.model.requests)
        result = await (await operation).result()
        anchors.update(
            {MARK.findall(s.text)[0]: s.anchor_id for s in chat_store(world).summaries.values()}
        )
        branch = await path_ids(world, chat.id, result.reply.id)
        async with world.uow(read_only=True) as uow:
            current = await uow.chats.summary_on(chat.id, branch[:-1])
        seen = marks(world.model.requests[start:])
        assert all(anchors[mark] in branch for mark in seen), (seen, anchors)
        reply_prompt = world.model.requests[-1]
        assert reply_prompt.models == ("tiny/model",)
        if current is not None:
            assert any(current.text in m.content for m in reply_prompt.messages)
        return result

    first: list[ReplyResult] = []
    while len(chat_store(world).summaries) < 2:
        first.append(await turn(world.send(ALICE, chat.id, f"Turn {len(first)}: " + "w " * 90)))
        assert len(first) < 60, "no summaries were made"
    original = await path_ids(world, chat.id, first[-1].reply.id)
    older, newer = sorted(anchors, key=lambda mark: original.index(anchors[mark]))[:2]
    between = [
        chat_store(world).messages[m]
        for m in original[original.index(anchors[older]) + 1 : original.index(anchors[newer])]
        if chat_store(world).messages[m].role is Role.USER
    ]
    assert between

    start = len(world.model.requests)
    await turn(world.edit(ALICE, chat.id, between[0].id, "Something else entirely"))
    seen = marks(world.model.requests[start:])
    assert older in seen  # the shared summary carries on (in the prompt, or folded again)
    assert newer not in seen
    for n in range(12):  # the new branch grows summaries of its own
        await turn(world.send(ALICE, chat.id, f"Elsewhere {n}: " + "w " * 90))
    elsewhere = {mark for mark, anchor in anchors.items() if anchor not in original}
    assert elsewhere

    await world.switch(ALICE, chat.id, original[-1])
    start = len(world.model.requests)
    await turn(world.send(ALICE, chat.id, "Back on the first branch: " + "w " * 90))
    seen = marks(world.model.requests[start:])
    assert newer in seen  # the original branch still has its summary (sent, or folded again)
    assert not seen & elsewhere


def chat_store(world: World) -> ChatStore:
    """The committed chat store (each commit publishes a new one)."""
    return world.uow.store.chats  # type: ignore[attr-defined,no-any-return]


async def path_ids(world: World, chat_id: ChatId, leaf_id: MessageId) -> list[MessageId]:
    async with world.uow(read_only=True) as uow:
        return [m.id for m in await uow.chats.path(chat_id, leaf_id, limit=10_000)]


# --- 4. Zero-cost models are rate limited ---------------------------------------------------


async def test_a_zero_cost_model_allows_120_replies_in_two_hours(world) -> None:
    chat = await world.chat(settings=ChatSettings(model=DOLPHIN))
    opened = world.clock.now()
    for _ in range(119):
        await world.limiter.hit(ALICE.user_id, CHAT_REPLY_ZERO_COST)
    world.clock.advance(minutes=1)
    last = await (await world.send(ALICE, chat.id, "The 120th")).result()
    assert (last.reply.cost, last.balance.total) == (0, DAILY_FREE)
    world.clock.advance(minutes=30)
    before = (world.counts(), await world.entries(), (await world.balance()).total)

    for refused in (
        lambda: world.send(ALICE, chat.id, "The 121st"),
        lambda: world.regenerate(ALICE, chat.id, last.reply.id),
        lambda: world.edit(ALICE, chat.id, last.user_message.id, "Once more"),
        lambda: world.continue_reply(ALICE, chat.id),
    ):
        with pytest.raises(RateLimitedError) as error:
            await refused()
        assert error.value.bucket == "chat_reply_zero_cost"
        assert error.value.retry_after == (timedelta(hours=2) - timedelta(minutes=31)).seconds

    assert (world.counts(), await world.entries(), (await world.balance()).total) == before
    current = world.uow.store.chats.chats[chat.id]
    assert current.leaf_id == last.reply.id
    assert not current.generating(world.clock.now())

    world.clock.at = opened + timedelta(hours=2) - timedelta(milliseconds=1)
    with pytest.raises(RateLimitedError):
        await world.send(ALICE, chat.id, "Still too soon")
    world.clock.at = opened + timedelta(hours=2)  # the 119 early replies leave the window
    later = await (await world.send(ALICE, chat.id, "Now")).result()
    assert later.reply.cost == 0


async def test_a_priced_model_is_not_rate_limited(world) -> None:
    chat = await world.chat()
    for _ in range(120):
        await world.limiter.hit(ALICE.user_id, CHAT_REPLY_ZERO_COST)

    result = await (await world.send(ALICE, chat.id, "Hi")).result()

    assert result.reply.cost == 1
    assert len(world.limiter.hits) == 120


# --- 5. A failure leaves the tree consistent ------------------------------------------------


async def test_a_failed_reply_leaves_its_user_message_for_regenerate_to_answer(world) -> None:
    chat = await world.chat()
    first = await (await world.send(ALICE, chat.id, "Hi!")).result()
    world.clock.advance(1)
    world.model.script(
        Reply("A partial answer, cut", error=ProviderUnavailableError("cut"), fail_after=2)
    )

    generation = await world.send(ALICE, chat.id, "And then?")
    progress: list[object] = []
    with pytest.raises(ProviderUnavailableError):
        await collect(generation, progress)

    created = progress[0]
    assert isinstance(created, MessagesCreated)
    assert [p.text for p in progress if isinstance(p, Delta)] == ["A parti", "al answ"]
    stored = world.uow.store.chats
    assert created.reply_id not in stored.messages  # the partial text is discarded
    asked = stored.messages[created.user_message_id]
    assert (asked.content, asked.parent_id) == ("And then?", first.reply.id)
    assert stored.chats[chat.id].leaf_id == asked.id
    assert not stored.chats[chat.id].generating(world.clock.now())
    assert (await world.balance()).total == DAILY_FREE - 1  # the failed reply was refunded
    assert [e.kind for e in await world.entries()][-2:] == [EntryKind.SPEND, EntryKind.REFUND]
    assert world.log.records[-1].outcome is Outcome.FAILED
    thread = await world.thread(chat)
    assert [m.content for m in thread.messages] == ["Hi!", "Hello there.", "And then?"]

    with pytest.raises(ValidationError):  # a user message is answered by regenerate only
        await world.send(ALICE, chat.id, "Hello?")
    with pytest.raises(ValidationError):
        await world.continue_reply(ALICE, chat.id)

    world.clock.advance(1)
    world.model.script("At last.")
    answer = await (await world.regenerate(ALICE, chat.id, asked.id)).result()

    assert answer.user_message is None
    assert (answer.reply.kind, answer.reply.parent_id) == (ReplyKind.REPLY, asked.id)
    assert answer.siblings[answer.reply.id] == Siblings(count=1, index=0)
    assert world.uow.store.chats.chats[chat.id].leaf_id == answer.reply.id
    assert answer.balance.total == DAILY_FREE - 2
    thread = await world.thread(chat)
    assert [m.content for m in thread.messages][-2:] == ["And then?", "At last."]
