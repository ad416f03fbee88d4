"""`OfflineChatModel`: the deterministic, network-free `ChatModel` of the embedded default.

It answers by the request's output contract (`request.schema.name`): a whole persona, an
enhance, a property action, a roleplay summary, a publish classification. Without a schema
it reads the prompt the chat templates wrote (`partner`, `image_prompt`): a roleplay reply
in character, a story chapter headed `Chapter N: <title>`, a continuation, a rolling
summary or a text-to-image prompt (one paragraph from the appearance, style and shot); any
other prompt gets a plain `[offline]` reply that echoes the user. The same request always
gives the same answer (seeded from a SHA-256 of the messages), and every answer is labelled
with `OFFLINE_TEXT_MODEL`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import attrs

from mynth_adapters.offline.classify import write_classification
from mynth_adapters.offline.edits import action_of, find_persona, write_changes, write_property
from mynth_adapters.offline.image_prompt import write_image_prompt
from mynth_adapters.offline.partner import write_reply, write_roleplay_summary
from mynth_adapters.offline.writer import CONFIGURE_HINT, Seed, clip, write_persona
from mynth_core.generation.ports import (
    ChatRequest,
    Completion,
    PromptMessage,
    Role,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    from mynth_core.generation.ports import ChatModel

OFFLINE_TEXT_MODEL: Final = "offline/text"
"""The model id on every offline answer (`offline/…` ids are reserved for offline generators)."""
OFFLINE_PROVIDER: Final = "offline"

_MIN_CHUNK: Final = 5
_CHUNK_SPREAD: Final = 16  # chunks are 5 to 20 characters long
_ECHO_CHARS: Final = 400
_REPLIES: Final = (
    "I hear you, and I would love to say more.",
    "That deserves a real answer.",
    "Tell me more and I will keep listening.",
)

_Write = Callable[[ChatRequest, Seed], object]


@attrs.frozen
class OfflineChatModel:
    """Deterministic templated answers, streamed in small chunks; needs no network or key.

    `chunk_delay` (seconds) spaces the streamed chunks out for demos; by default chunks only
    yield to the event loop, so a cancellation can still land between them. `usage` counts
    words, not tokens, as the offline generator has no tokenizer; `cost_usd` is always None.
    """

    chunk_delay: float = 0.0

    async def stream(self, request: ChatRequest) -> AsyncGenerator[TextDelta | Completion, None]:
        completion, seed = _answer(request)
        for piece in chunks(completion.text, seed):
            await asyncio.sleep(self.chunk_delay)
            yield TextDelta(piece)
        yield completion

    async def complete(self, request: ChatRequest) -> Completion:
        return _answer(request)[0]


def chunks(text: str, seed: Seed) -> list[str]:
    """`text` cut into pieces of 5 to 20 characters, the sizes drawn from `seed`."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        size = _MIN_CHUNK + seed.digest[len(pieces) % len(seed.digest)] % _CHUNK_SPREAD
        pieces.append(text[start : start + size])
        start += size
    return pieces


def _answer(request: ChatRequest) -> tuple[Completion, Seed]:
    name = request.schema.name if request.schema is not None else ""
    seed = Seed.of([name, *(f"{m.role.value}:{m.content}" for m in request.messages)])
    writer = _WRITERS.get(name)
    if writer is not None:
        text = json.dumps(writer(request, seed), ensure_ascii=False)
    elif request.schema is not None:
        text = json.dumps(placeholder(request.schema.schema), ensure_ascii=False)
    else:
        text = (
            write_image_prompt(request.messages)
            or write_reply(request.messages, seed)
            or _reply(_last_user(request.messages), seed)
        )
    prompt_words = sum(len(m.content.split()) for m in request.messages)
    completion = Completion(
        text=text,
        model=OFFLINE_TEXT_MODEL,
        provider=OFFLINE_PROVIDER,
        finish_reason="stop",
        usage=Usage(prompt_words, len(text.split())),
        generation_id=f"offline-{seed.digest.hex()[:24]}",
    )
    return completion, seed


def placeholder(schema: Mapping[str, object]) -> object:
    """The simplest value that satisfies a JSON schema, for contracts without a writer."""
    kind = schema.get("type")
    kinds = [k for k in kind if k != "null"] if isinstance(kind, list) else [kind]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    simple: Mapping[object, object] = {
        "string": "offline",
        "integer": 0,
        "number": 0,
        "boolean": False,
        "array": [],
    }
    if kinds and kinds[0] in simple:
        return simple[kinds[0]]
    properties = schema.get("properties")
    if kinds and kinds[0] == "object" and isinstance(properties, Mapping):
        return {key: placeholder(value) for key, value in properties.items()}
    return None


def _persona(request: ChatRequest, seed: Seed) -> object:
    return write_persona(_last_user(request.messages), seed)


def _changes(request: ChatRequest, seed: Seed) -> object:
    persona = find_persona(request.messages)
    return write_changes(persona, _last_user(request.messages), seed)


def _property_action(request: ChatRequest, seed: Seed) -> object:
    schema = request.schema.schema if request.schema is not None else {}
    required = schema.get("required")
    names = list(required) if isinstance(required, list) else ["value"]
    persona = find_persona(request.messages)
    return write_property(persona, str(names[0]), action_of(request.messages), seed)


def _roleplay_summary(request: ChatRequest, seed: Seed) -> object:  # noqa: ARG001 - no choices
    return write_roleplay_summary(find_persona(request.messages))


def _classification(request: ChatRequest, seed: Seed) -> object:  # noqa: ARG001 - no choices
    return write_classification(find_persona(request.messages))


def _reply(message: str, seed: Seed) -> str:
    echo = clip(" ".join(message.split()), _ECHO_CHARS) or "…"
    return (
        f"[offline] You said: “{echo}”. {seed.pick('reply', _REPLIES)} This reply comes from "
        f"Mynth's offline generator, which echoes your message; {CONFIGURE_HINT}."
    )


def _last_user(messages: Sequence[PromptMessage]) -> str:
    users = [m.content for m in messages if m.role is Role.USER]
    return users[-1] if users else messages[-1].content


_WRITERS: Final[Mapping[str, _Write]] = {
    "persona": _persona,
    "persona_changes": _changes,
    "property_action": _property_action,
    "roleplay_summary": _roleplay_summary,
    "publish_classification": _classification,
}


if TYPE_CHECKING:
    _conforms: type[ChatModel] = OfflineChatModel
