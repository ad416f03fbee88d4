"""A chat world over the core fakes: every chat use case wired to one LedgerWorld."""

from __future__ import annotations

import attrs

from ledgerkit import LedgerWorld
from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.chats.model import Chat
from mynth_core.chats.operations import ContinueReply, EditMessage, RegenerateReply, SendMessage
from mynth_core.chats.prompting import ChatWriter
from mynth_core.chats.replies import ChatReplies
from mynth_core.chats.services import CreateChat, ReadThread, SwitchLeaf, Thread, UpdateChat
from mynth_core.generation.runs import Generation
from mynth_core.identity import Principal
from mynth_core.ids import UserId
from mynth_core.ledger.services import GetBalance
from mynth_core.personas.model import Persona
from mynth_core.personas.services import CreatePersona
from mynth_core.pricing import PriceTable
from mynth_core.testing import (
    FakeRateLimiter,
    PlainPromptRenderer,
    RecordingGenerationLog,
    ScriptedChatModel,
    persona_data,
)
from mynth_core.testing.fakes import world_counts

ALICE = Principal(UserId("alice"))
BOB = Principal(UserId("bob"))
SUMMARY = {
    "appearance": "tall",
    "personality": "dry",
    "background": "an island",
    "interests": None,
    "skills": None,
    "motivations": None,
}


@attrs.define
class World(LedgerWorld):
    """The chat use cases over the fakes; the limiter keeps its windows across replies."""

    model: ScriptedChatModel = attrs.Factory(lambda: ScriptedChatModel(default="Hello there."))
    log: RecordingGenerationLog = attrs.Factory(RecordingGenerationLog)
    catalogue: ChatCatalogue = attrs.Factory(ChatCatalogue)
    prices: PriceTable = attrs.Factory(PriceTable)
    limiter: FakeRateLimiter = attrs.Factory(
        lambda self: FakeRateLimiter(self.clock), takes_self=True
    )

    @property
    def writer(self) -> ChatWriter:
        return ChatWriter(
            uow=self.uow,
            clock=self.clock,
            model=self.model,
            renderer=PlainPromptRenderer(),
            catalogue=self.catalogue,
            log=self.log,
        )

    @property
    def replies(self) -> ChatReplies:
        return ChatReplies(
            self.uow,
            self.clock,
            self.ids,
            self.guard,
            self.prices,
            GetBalance(self.uow, self.clock, self.policy),
            self.limiter,
            self.writer,
            self.policy,
        )

    @property
    def create(self) -> CreateChat:
        return CreateChat(self.uow, self.clock, self.ids, self.catalogue)

    @property
    def send(self) -> SendMessage:
        return SendMessage(self.uow, self.clock, self.ids, self.replies)

    @property
    def regenerate(self) -> RegenerateReply:
        return RegenerateReply(self.uow, self.replies)

    @property
    def edit(self) -> EditMessage:
        return EditMessage(self.uow, self.clock, self.ids, self.replies)

    @property
    def continue_reply(self) -> ContinueReply:
        return ContinueReply(self.uow, self.replies)

    @property
    def switch(self) -> SwitchLeaf:
        return SwitchLeaf(self.uow)

    @property
    def update(self) -> UpdateChat:
        return UpdateChat(self.uow, self.clock, self.catalogue)

    async def persona(self, who: Principal = ALICE) -> Persona:
        return await CreatePersona(self.uow, self.clock, self.ids)(who, persona_data(), None)

    async def chat(self, who: Principal = ALICE, **kw: object) -> Chat:
        persona = await self.persona(who)
        self.model.script(SUMMARY)  # the roleplay summary, generated on the first reply
        return await self.create(who, persona.id, **kw)  # type: ignore[arg-type]

    async def thread(self, chat: Chat, who: Principal = ALICE, **kw: object) -> Thread:
        return await ReadThread(self.uow)(who, chat.id, **kw)  # type: ignore[arg-type]

    def counts(self) -> dict[str, int]:
        return dict(world_counts(self.uow))


async def events(generation: Generation[object]) -> list[object]:
    return [e async for e in generation.events]
