"""Server-sent events of a streamed chat completion: SSE framing and chunk accounting.

PROVIDERS §1.5 parser rules 2-7. `sse_data` turns lines into event payloads (comments and
unknown fields dropped, multi-line `data` joined); `StreamState` folds the JSON chunks into
the text, `finish_reason`, usage and ids of one completion, and raises the core error of an
error event, a malformed chunk or a truncated stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from typing import Any, Final

import attrs

from mynth_adapters.openrouter.wire import ErrorFactory, first_choice, parse_cost, parse_usage
from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderUnavailableError,
)
from mynth_core.generation.ports import Usage

DONE: Final = "[DONE]"
CONTENT_FILTER: Final = "content_filter"
ERROR_FINISH: Final = "error"


async def sse_data(lines: AsyncIterable[str]) -> AsyncGenerator[str, None]:
    """The `data` of each event in an SSE stream of `lines` (line terminators removed).

    Comment lines (`:` first) are skipped, `event`/`id`/`retry` ignored, several `data` lines
    of one event joined by newlines. An event cut off by the end of the stream is dropped, as
    the SSE spec says, except a lone `[DONE]` from a server that omits the last blank line.
    """
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if joined := "\n".join(data):  # an event with empty data dispatches nothing
                yield joined
            data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value.removeprefix(" "))
    if data == [DONE]:
        yield DONE


@attrs.define
class StreamState:
    """What the chunks of one stream said so far (rules 4-7).

    `feed` takes each event's payload and returns the content it carries (possibly `""`).
    `error` builds the core error for an embedded `error` object.
    """

    provider: str
    error: ErrorFactory
    parts: list[str] = attrs.Factory(list)
    finish_reason: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    model: str | None = None
    generation_id: str | None = None
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def emitted(self) -> bool:
        """Whether any content arrived (a caller saw output; no retry from here on)."""
        return any(self.parts)

    def feed(self, data: str) -> str:
        """Account for one event; the content piece it carries.

        Raises:
            ProviderError: an `error` event or `finish_reason: "error"` (by the error's code);
                `ContentRefusedError` for `finish_reason: "content_filter"`.
            ProviderBadResponseError: a payload that is not a JSON object.
        """
        if data == DONE:
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ProviderBadResponseError(f"{self.provider}: malformed stream event") from exc
        if not isinstance(chunk, dict):
            raise ProviderBadResponseError(f"{self.provider}: stream event is not an object")
        self._note_ids(chunk)
        if isinstance(chunk.get("error"), dict):  # before `choices` (rule 4): terminal
            self.done = True
            raise self.error(chunk["error"])
        self._note_usage(chunk.get("usage"))
        choice = first_choice(chunk.get("choices"))
        if choice is None:
            return ""
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self.finish_reason = finish
        if finish == CONTENT_FILTER:  # terminal, even after partial output
            self.done = True
            raise ContentRefusedError(f"{self.provider}: output stopped by a content filter")
        if finish == ERROR_FINISH:
            self.done = True
            embedded = choice.get("error")
            raise self.error(embedded if isinstance(embedded, dict) else {})
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            self.parts.append(content)
            return content
        return ""

    def end_of_stream(self) -> None:
        """The body ended without `[DONE]`: fine only after a finish reason and usage (rule 7).

        Raises:
            ProviderUnavailableError: an incomplete stream.
        """
        if self.finish_reason is None or self.usage is None:
            raise ProviderUnavailableError(f"{self.provider}: incomplete stream")
        self.done = True

    def _note_ids(self, chunk: Mapping[str, Any]) -> None:
        model, chunk_id = chunk.get("model"), chunk.get("id")
        if isinstance(model, str) and model:
            self.model = model
        if self.generation_id is None and isinstance(chunk_id, str) and chunk_id:
            self.generation_id = chunk_id

    def _note_usage(self, usage: object) -> None:
        if isinstance(usage, dict):
            self.usage = parse_usage(usage) or self.usage
            self.cost_usd = parse_cost(usage) if "cost" in usage else self.cost_usd
