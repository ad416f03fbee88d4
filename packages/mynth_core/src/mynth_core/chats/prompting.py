"""Building a reply's prompt: the character summary, the budgeted history, the story heading.

`ChatWriter.prompt` reads a bounded tail of the branch (never the whole chat), reuses the
branch's rolling summary, folds older turns into a new one when the budget requires it
(PRODUCT.md §6.8), and assembles the messages in §6.4's order. Summaries are free and never
block a reply: a failed roleplay summary falls back to clipped fields (not cached), a failed
rolling summary drops the oldest turns instead (logged as `chat.summary_failed`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import attrs

from mynth_core.chats.catalogue import ChatCatalogue, max_output_tokens
from mynth_core.chats.context import (
    LOAD_MESSAGES,
    SUMMARY_TOKENS,
    plan_history,
    prompt_budget,
    prompt_tokens,
    tokens,
)
from mynth_core.chats.model import CHAPTER_TITLE_LIMIT, Chapter, Chat, Message, Role
from mynth_core.chats.ports import RollingSummary
from mynth_core.chats.progress import ChapterStarted, Delta
from mynth_core.chats.prompts import (
    ROLEPLAY_SUMMARY_SCHEMA,
    AuthorNote,
    ContinueInstruction,
    RoleplaySummary,
    RoleplaySummaryPrompt,
    RoleplaySystem,
    RollingSummaryPrompt,
    StorySystem,
    SummaryBlock,
    substitute,
)
from mynth_core.clock import Clock
from mynth_core.errors import MynthError
from mynth_core.generation.partial import loads_object
from mynth_core.generation.ports import (
    ChatModel,
    ChatRequest,
    PromptMessage,
    PromptRenderer,
)
from mynth_core.generation.ports import (
    Role as PromptRole,
)
from mynth_core.generation.runs import GenerationLog, Outcome, Progress, Trace
from mynth_core.ids import ChatId, MessageId, VersionId
from mynth_core.personas.normalise import clean_text
from mynth_core.pricing import ChatMode
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

if TYPE_CHECKING:
    from mynth_core.chats.replies import Turn

_log = logging.getLogger(__name__)

SUMMARY_MODELS: Final = ("google/gemini-2.5-flash-lite", "mistralai/mistral-small-3.2-24b-instruct")
SUMMARY_TIMEOUT: Final = 30.0
ROLLING_SUMMARY_CHARS: Final = SUMMARY_TOKENS * 3
DEFAULT_USER_NAME: Final = "User"
_SUMMARY_FIELD_LIMIT: Final = 800


@attrs.frozen(kw_only=True)
class ReplyPrompt:
    """The rendered messages of one reply and the output it may use."""

    messages: tuple[PromptMessage, ...]
    max_output_tokens: int
    budget: int


@attrs.frozen(kw_only=True)
class ChatWriter:
    """What every chat reply needs besides the ledger: model, prompts, catalogue, log."""

    uow: UnitOfWorkFactory
    clock: Clock
    model: ChatModel
    renderer: PromptRenderer
    catalogue: ChatCatalogue
    log: GenerationLog

    async def next_chapter(
        self, uow: UnitOfWork, chat: Chat, above: MessageId | None
    ) -> int | None:
        """A story reply's number: 1 + the nearest chaptered ancestor's (None in roleplay)."""
        if chat.mode is not ChatMode.STORY:
            return None
        if above is None:
            return 1
        for message in reversed(await uow.chats.path(chat.id, above, limit=LOAD_MESSAGES)):
            if message.chapter is not None:
                return message.chapter.number + 1
        return 1

    async def prompt(self, chat: Chat, turn: Turn) -> ReplyPrompt:
        """The messages for `turn`'s reply, within the model's prompt budget."""
        entry = self.catalogue.entry(chat.settings.model)
        output = max_output_tokens(chat.mode)
        budget = prompt_budget(
            context_window=entry.context_window,
            max_output_tokens=output,
            max_prompt_tokens=self.catalogue.max_prompt_tokens,
        )
        character = await self.character(chat.pin.version_id)
        async with self.uow(read_only=True) as uow:
            tail = await uow.chats.path(chat.id, turn.parent_id, limit=LOAD_MESSAGES)
            summary = await uow.chats.summary_on(chat.id, [m.id for m in tail])
        if summary is not None:
            ids = [m.id for m in tail]
            tail = tail[ids.index(summary.anchor_id) + 1 :]
        latest = tail[-1] if tail and tail[-1].role is Role.USER else None
        history = list(tail[:-1] if latest is not None else tail)
        fixed = self._fixed(chat, turn, character, latest)
        summary_text = summary.text if summary is not None else None
        available = budget - prompt_tokens(fixed.all()) - (tokens(summary_text or "") + 8)
        plan = plan_history(history, available=available)
        if plan.fold:
            summary_text = await self._fold(chat, summary_text, plan.fold, character.name)
        messages = fixed.assemble(self.renderer, summary_text, plan.keep)
        keep = list(plan.keep)
        while keep and prompt_tokens(messages) > budget:  # estimates are conservative; be sure
            keep.pop(0)
            messages = fixed.assemble(self.renderer, summary_text, keep)
        return ReplyPrompt(messages=messages, max_output_tokens=output, budget=budget)

    def _fixed(
        self, chat: Chat, turn: Turn, character: RoleplaySummary, latest: Message | None
    ) -> _Fixed:
        settings = chat.settings
        user_name = settings.user_persona.name if settings.user_persona else DEFAULT_USER_NAME

        def names(text: str | None) -> str | None:
            return substitute(text, char=character.name, user=user_name)

        scenario = names(settings.scenario)
        system = (
            RoleplaySystem(
                character=character,
                user_persona=None
                if settings.user_persona is None
                else attrs.evolve(
                    settings.user_persona,
                    description=names(settings.user_persona.description) or "",
                ),
                scenario=scenario,
                nsfw=settings.nsfw,
            )
            if chat.mode is ChatMode.ROLEPLAY
            else StorySystem(
                character=character,
                scenario=scenario,
                nsfw=settings.nsfw,
                chapter=turn.chapter or 1,
            )
        )
        note = names(settings.author_note)
        return _Fixed(
            system=self.renderer.render(system),
            note=self.renderer.render(AuthorNote(note)) if note else (),
            latest=(PromptMessage(PromptRole.USER, latest.content),) if latest else (),
            tail=(
                PromptMessage(PromptRole.ASSISTANT, turn.continued.content),
                *self.renderer.render(ContinueInstruction(story=chat.mode is ChatMode.STORY)),
            )
            if turn.continued is not None
            else (),
        )

    async def character(self, version_id: VersionId) -> RoleplaySummary:
        """The version's cached roleplay summary; generated on first use (§6.6)."""
        async with self.uow(read_only=True) as uow:
            cached = await uow.chats.roleplay_summary(version_id)
            version = await uow.personas.find_version(version_id)
        if version is None:  # pragma: no cover - a pinned version is never removed
            msg = f"pinned version {version_id} is missing"
            raise MynthError(msg)
        data = version.data
        if cached is not None:
            return RoleplaySummary.from_json(cached)
        trace = Trace(operation="roleplay_summary", models=SUMMARY_MODELS, version_id=version_id)
        request = ChatRequest(
            messages=self.renderer.render(RoleplaySummaryPrompt(data)),
            models=SUMMARY_MODELS,
            schema=ROLEPLAY_SUMMARY_SCHEMA,
            max_tokens=600,
            timeout=SUMMARY_TIMEOUT,
        )
        try:
            completion = await self.model.complete(request)
            trace.completion, trace.attempts = completion, completion.attempts
            fields = loads_object(completion.text)
            summary = RoleplaySummary(
                name=data.name,
                age=data.age,
                gender=data.gender,
                appearance=clean_text(fields.get("appearance"), _SUMMARY_FIELD_LIMIT) or "",
                personality=clean_text(fields.get("personality"), _SUMMARY_FIELD_LIMIT) or "",
                background=clean_text(fields.get("background"), _SUMMARY_FIELD_LIMIT) or "",
                interests=clean_text(fields.get("interests"), _SUMMARY_FIELD_LIMIT),
                skills=clean_text(fields.get("skills"), _SUMMARY_FIELD_LIMIT),
                motivations=clean_text(fields.get("motivations"), _SUMMARY_FIELD_LIMIT),
            )
            if not (summary.appearance and summary.personality and summary.background):
                raise ValueError("the summary lacks a required field")  # noqa: TRY301
        except (MynthError, ValueError, TypeError) as exc:
            self.log.record(trace.finish(exc))
            return RoleplaySummary.fallback(data)
        self.log.record(trace.finish())
        async with self.uow() as uow:
            await uow.chats.save_roleplay_summary(version_id, summary.to_json())
            await uow.commit()
        return summary

    async def _fold(
        self, chat: Chat, previous: str | None, fold: Sequence[Message], character: str
    ) -> str | None:
        """A new rolling summary anchored on the last folded message; None if it failed."""
        user_name = (
            chat.settings.user_persona.name if chat.settings.user_persona else DEFAULT_USER_NAME
        )
        turns = tuple(
            (character if m.role is Role.ASSISTANT else user_name, m.content) for m in fold
        )
        trace = Trace(operation="rolling_summary", models=SUMMARY_MODELS, chat_id=chat.id)
        request = ChatRequest(
            messages=self.renderer.render(
                RollingSummaryPrompt(previous=previous, turns=turns, character=character)
            ),
            models=SUMMARY_MODELS,
            max_tokens=SUMMARY_TOKENS,
            timeout=SUMMARY_TIMEOUT,
        )
        try:
            completion = await self.model.complete(request)
            trace.completion, trace.attempts = completion, completion.attempts
            text = completion.text.strip()[:ROLLING_SUMMARY_CHARS]
            if not text:
                raise ValueError("empty summary")  # noqa: TRY301
        except (MynthError, ValueError) as exc:
            trace.outcome = Outcome.FAILED
            self.log.record(trace.finish(exc))
            _log.warning("chat.summary_failed chat=%s: %s", chat.id, exc)
            return previous
        self.log.record(trace.finish())
        summary = RollingSummary(
            chat_id=ChatId(chat.id), anchor_id=fold[-1].id, text=text, created_at=self.clock.now()
        )
        async with self.uow() as uow:
            await uow.chats.add_summary(summary)
            await uow.commit()
        return text


@attrs.frozen(kw_only=True)
class _Fixed:
    """The parts that always go in, already rendered."""

    system: tuple[PromptMessage, ...]
    note: tuple[PromptMessage, ...]
    latest: tuple[PromptMessage, ...]
    tail: tuple[PromptMessage, ...]

    def all(self) -> tuple[PromptMessage, ...]:
        return self.system + self.note + self.latest + self.tail

    def assemble(
        self, renderer: PromptRenderer, summary: str | None, keep: Sequence[Message]
    ) -> tuple[PromptMessage, ...]:
        block = renderer.render(SummaryBlock(summary)) if summary else ()
        turns = tuple(
            PromptMessage(
                PromptRole.USER if m.role is Role.USER else PromptRole.ASSISTANT, m.content
            )
            for m in keep
        )
        return self.system + block + turns + self.note + self.latest + self.tail


_HEADING_PREFIX: Final = re.compile(
    r"^\s*(?:[#*_>\s]*)(?:chapter|ch\.)\s*(?:\d+|[ivxlcdm]+)\s*[:.\-\u2013\u2014]*\s*",
    re.IGNORECASE,
)
_MARKUP: Final = re.compile(r"^[#*_>\s]+|[*_\s]+$")
MAX_HEADING_CHARS: Final = 200


@attrs.define
class StoryHeading:
    """Reads a story reply's first line as its chapter heading while the text streams.

    Text is held back until the first line is complete (or is clearly not a heading); then a
    `ChapterStarted` event is emitted and the rest streams as deltas.
    """

    number: int
    _buffer: str = ""
    _title: str | None = None
    _decided: bool = False

    def feed(self, text: str) -> list[Progress]:
        if self._decided:
            return [Delta(text)] if text else []
        self._buffer += text
        if "\n" not in self._buffer and len(self._buffer) < MAX_HEADING_CHARS:
            return []
        self._decided = True
        first, _, rest = self._buffer.partition("\n")
        if len(first) <= MAX_HEADING_CHARS and first.strip():
            self._title = _title_of(first, self.number)
            body = rest.lstrip("\n")
        else:
            self._title = f"Chapter {self.number}"
            body = self._buffer
        events: list[Progress] = [ChapterStarted(self.number, self._title)]
        if body:
            events.append(Delta(body))
        return events

    def flush(self) -> list[Progress]:
        """At the end of the stream: a reply of one line has no heading."""
        if self._decided:
            return []
        self._decided = True
        self._title = f"Chapter {self.number}"
        body = [Delta(self._buffer)] if self._buffer else []
        return [ChapterStarted(self.number, self._title), *body]

    def chapter(self) -> Chapter:
        return Chapter(self.number, self._title or f"Chapter {self.number}")

    def body(self, text: str) -> str:
        """The stored content: the whole reply without its heading line."""
        first, newline, rest = text.partition("\n")
        if newline and first.strip() and len(first) <= MAX_HEADING_CHARS:
            return rest.strip()
        return text.strip()


def _title_of(line: str, number: int) -> str:
    title = _MARKUP.sub("", _HEADING_PREFIX.sub("", line)).strip()
    return title[:CHAPTER_TITLE_LIMIT].strip() or f"Chapter {number}"
