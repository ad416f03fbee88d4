"""The text-generation ports: `ChatModel` (an LLM) and `PromptRenderer` (specs → messages).

A use case builds a `PromptSpec` (what the prompt must say, as data), the renderer turns it
into `PromptMessage`s, and the chat model answers a `ChatRequest` either at once
(`complete`) or as a stream of `TextDelta`s that ends with exactly one `Completion`.

Errors are core errors (PROVIDERS §0.2), raised by both methods:
- `ProviderTimeoutError`: no answer (or, streaming, no first token) in time;
- `ProviderRateLimitedError`: 429 / overloaded after retries and fallbacks (`retry_after`);
- `ProviderUnavailableError`: transport errors, 5xx, a truncated stream, after retries;
- `ContentRefusedError`: moderation or `finish_reason: content_filter`;
- `ProviderRejectedError` / `ProviderMisconfiguredError`: 4xx that retrying cannot fix;
- `ProviderBadResponseError`: a 2xx body that is not the documented shape.
A streaming error raised after deltas were yielded has `ProviderError` type as well; the
consumer knows whether it saw output.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Mapping
from typing import ClassVar, Protocol

import attrs


class Role(enum.StrEnum):
    """Who says a message in a chat prompt."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@attrs.frozen
class PromptMessage:
    """One rendered chat message."""

    role: Role
    content: str


@attrs.frozen(kw_only=True)
class JsonSchema:
    """A structured-output contract (`response_format: json_schema`).

    `schema` is a plain JSON Schema object; `name` identifies the contract (the offline
    generator reads it to know what to produce).
    """

    name: str
    schema: Mapping[str, object]
    strict: bool = True


@attrs.frozen(kw_only=True)
class ChatRequest:
    """One generation: rendered messages, the models to try in order, limits.

    `models[0]` is the primary; the rest are fallbacks tried in order. `timeout` bounds the
    whole call in seconds (retries and fallbacks included); `first_token_timeout` bounds the
    wait for the first streamed content token. `user` is an opaque, stable end-user hash.
    """

    messages: tuple[PromptMessage, ...] = attrs.field(validator=attrs.validators.min_len(1))
    models: tuple[str, ...] = attrs.field(validator=attrs.validators.min_len(1))
    schema: JsonSchema | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 150.0
    first_token_timeout: float | None = None
    user: str | None = None


@attrs.frozen
class Usage:
    """Token counts reported by the provider (never estimated)."""

    prompt_tokens: int
    completion_tokens: int


@attrs.frozen
class TextDelta:
    """A piece of streamed output text."""

    text: str


@attrs.frozen(kw_only=True)
class Completion:
    """A finished generation.

    `model` is the model that actually answered (after fallbacks); `provider` is
    `openrouter`, `openai_compatible` or `offline`; `attempts` counts upstream calls made,
    retries and fallbacks included. `usage` and `cost_usd` are None when not reported.
    """

    text: str
    model: str
    provider: str
    finish_reason: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    generation_id: str | None = None
    attempts: int = 1


class ChatModel(Protocol):
    """**Port**: an LLM behind an OpenAI-compatible chat API (or the offline generator)."""

    def stream(self, request: ChatRequest) -> AsyncGenerator[TextDelta | Completion, None]:
        """Yield `TextDelta`s as output arrives, then one `Completion` with the whole text.

        Retries and fallbacks happen only before the first delta is yielded. Closing the
        iterator early cancels the upstream call.
        """
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole answer at once."""
        ...


class PromptSpec(Protocol):
    """What one prompt must say, as data: the renderer owns the wording.

    `template` names the prompt (the Jinja adapter renders `<template>.system.j2` and
    `<template>.user.j2`); `variables()` are the values it may use. User-written text is only
    ever a variable, never template source.
    """

    template: ClassVar[str]

    def variables(self) -> Mapping[str, object]: ...


class PromptRenderer(Protocol):
    """**Port**: turn a `PromptSpec` into chat messages."""

    def render(self, spec: PromptSpec) -> tuple[PromptMessage, ...]: ...
