"""Doubles of the generation ports: a scripted chat model, a plain renderer, a recording log."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING

import attrs

from mynth_core.generation.ports import (
    ChatModel,
    ChatRequest,
    Completion,
    PromptMessage,
    PromptSpec,
    Role,
    TextDelta,
    Usage,
)
from mynth_core.generation.runs import GenerationRecord


@attrs.frozen
class Reply:
    """One scripted answer: `text` streamed in `chunk`-sized pieces, or an error.

    `fail_after` raises `error` after that many pieces (a mid-stream failure); with no
    `fail_after` an `error` is raised before any output.
    """

    text: str = ""
    error: BaseException | None = None
    fail_after: int | None = None
    chunk: int = 7
    model: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0  # seconds before the first piece (a slow provider)


@attrs.define
class ScriptedChatModel:
    """`ChatModel` answering from a FIFO of `Reply`s, then from `fallback`, else `default` text.

    Every request is recorded. The served model is the reply's `model`, else the request's
    first model. With `accepts`, only the requests it accepts take scripted replies; the
    others go to `fallback` (e.g. script chat replies, let summaries come from elsewhere).
    """

    default: str = "Scripted reply."
    fallback: ChatModel | None = None
    accepts: Callable[[ChatRequest], bool] | None = None
    replies: deque[Reply] = attrs.field(factory=deque)
    requests: list[ChatRequest] = attrs.field(factory=list)

    def script(self, *replies: Reply | str | Mapping[str, object]) -> None:
        """Queue replies: a `Reply`, a text, or a JSON object (sent as its JSON text)."""
        for reply in replies:
            if isinstance(reply, Reply):
                self.replies.append(reply)
            elif isinstance(reply, str):
                self.replies.append(Reply(reply))
            else:
                self.replies.append(Reply(json.dumps(reply)))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[TextDelta | Completion, None]:
        self.requests.append(request)
        declined = self.accepts is not None and not self.accepts(request)
        if (declined or not self.replies) and self.fallback is not None:
            async with aclosing(self.fallback.stream(request)) as items:
                async for item in items:
                    yield item
            return
        reply = self.replies.popleft() if self.replies else Reply(self.default)
        if reply.error is not None and reply.fail_after is None:
            raise reply.error
        if reply.delay:
            await asyncio.sleep(reply.delay)
        pieces = [reply.text[i : i + reply.chunk] for i in range(0, len(reply.text), reply.chunk)]
        for index, piece in enumerate(pieces):
            if reply.error is not None and index == reply.fail_after:
                raise reply.error
            yield TextDelta(piece)
        yield Completion(
            text=reply.text,
            model=reply.model or request.models[0],
            provider="scripted",
            finish_reason=reply.finish_reason,
            usage=Usage(prompt_tokens=len(request.messages), completion_tokens=len(pieces)),
        )

    async def complete(self, request: ChatRequest) -> Completion:
        completion: Completion | None = None
        async for item in self.stream(request):
            if isinstance(item, Completion):
                completion = item
        assert completion is not None  # noqa: S101 - stream always ends with one
        return completion


@attrs.frozen
class PlainPromptRenderer:
    """`PromptRenderer` writing the spec's template name and variables as plain JSON."""

    def render(self, spec: PromptSpec) -> tuple[PromptMessage, ...]:
        variables = json.dumps(dict(spec.variables()), sort_keys=True, default=str)
        return (
            PromptMessage(Role.SYSTEM, f"template: {spec.template}"),
            PromptMessage(Role.USER, variables),
        )


@attrs.define
class RecordingGenerationLog:
    """`GenerationLog` keeping every record."""

    records: list[GenerationRecord] = attrs.field(factory=list)

    def record(self, record: GenerationRecord) -> None:
        self.records.append(record)


if TYPE_CHECKING:
    from mynth_core.generation.ports import PromptRenderer
    from mynth_core.generation.runs import GenerationLog

    _model: type[ChatModel] = ScriptedChatModel
    _renderer: type[PromptRenderer] = PlainPromptRenderer
    _log: type[GenerationLog] = RecordingGenerationLog
