"""The chat model catalogue (PRODUCT.md §6.11) *(config)*; prices live in the PriceTable."""

from __future__ import annotations

import enum
from typing import Final

import attrs

from mynth_core.errors import UnknownModelError
from mynth_core.pricing import DEFAULT_CHAT_MODEL, ChatMode

ROLEPLAY_MAX_OUTPUT: Final = 1000
STORY_MAX_OUTPUT: Final = 2000
MAX_PROMPT_TOKENS: Final = 16_000
FREE_SUFFIX: Final = ":free"


class Disclosure(enum.StrEnum):
    """A provider's privacy answer: `yes`, `no` or `unknown`."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@attrs.frozen(kw_only=True)
class ChatModelEntry:
    """One chat model users can pick."""

    id: str
    display_name: str
    context_window: int = attrs.field(validator=attrs.validators.gt(0))
    free_variant: bool = False
    uncensored: bool = False
    enabled: bool = True
    description: str = ""
    trains_on_data: Disclosure = Disclosure.UNKNOWN
    stores_messages: Disclosure = Disclosure.UNKNOWN

    def routing(self) -> tuple[str, ...]:
        """The ids to call: `<id>:free` first when a free variant exists, then `<id>`."""
        return (f"{self.id}{FREE_SUFFIX}", self.id) if self.free_variant else (self.id,)


def max_output_tokens(mode: ChatMode) -> int:
    """The reply length a mode allows (roleplay 1000, story 2000 tokens)."""
    return ROLEPLAY_MAX_OUTPUT if mode is ChatMode.ROLEPLAY else STORY_MAX_OUTPUT


DEFAULT_CHAT_CATALOGUE: Final = (
    ChatModelEntry(
        id=DEFAULT_CHAT_MODEL,
        display_name="Grok 4 Fast",
        context_window=2_000_000,
        free_variant=True,
    ),
    ChatModelEntry(
        id="cognitivecomputations/dolphin-mistral-24b-venice-edition",
        display_name="Dolphin Mistral 24B Venice",
        context_window=32_768,
        free_variant=True,
        uncensored=True,
    ),
    ChatModelEntry(
        id="thedrummer/cydonia-24b-v4.1",
        display_name="Cydonia 24B v4.1",
        context_window=131_072,
        uncensored=True,
    ),
    ChatModelEntry(
        id="meta-llama/llama-3.3-70b-instruct",
        display_name="Llama 3.3 70B Instruct",
        context_window=131_072,
        free_variant=True,
        uncensored=True,
    ),
    ChatModelEntry(
        id="z-ai/glm-4.5-air",
        display_name="GLM 4.5 Air",
        context_window=131_072,
        free_variant=True,
        uncensored=True,
    ),
    ChatModelEntry(
        id="nousresearch/hermes-3-llama-3.1-405b",
        display_name="Hermes 3 405B",
        context_window=131_072,
        uncensored=True,
    ),
)


@attrs.frozen
class ChatCatalogue:
    """The enabled chat models, and the default one."""

    entries: tuple[ChatModelEntry, ...] = DEFAULT_CHAT_CATALOGUE
    default: str = DEFAULT_CHAT_MODEL
    max_prompt_tokens: int = MAX_PROMPT_TOKENS

    def __attrs_post_init__(self) -> None:
        ids = [e.id for e in self.entries]
        if len(ids) != len(set(ids)) or self.default not in ids:
            msg = "chat model ids must be unique and include the default"
            raise ValueError(msg)

    @property
    def enabled(self) -> tuple[ChatModelEntry, ...]:
        return tuple(e for e in self.entries if e.enabled)

    def entry(self, model: str) -> ChatModelEntry:
        """An enabled model.

        Raises:
            UnknownModelError: not in the catalogue, or disabled.
        """
        for entry in self.entries:
            if entry.id == model and entry.enabled:
                return entry
        raise UnknownModelError(model)
