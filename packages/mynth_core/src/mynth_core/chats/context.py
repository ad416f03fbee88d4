"""The context budget (PRODUCT.md §6.8): what history fits, and what folds into the summary.

Fixed parts (system message, summary block, author note, latest user message) always go in.
History fills the rest newest to oldest. When it does not fit, or when more than
`MAX_HISTORY_MESSAGES` messages follow the summary, the oldest turns (whole pairs, keeping
at least the last `KEEP_VERBATIM` messages) are folded into the rolling summary until the
history uses at most half of what remains. If even those do not fit, the oldest are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import attrs

from mynth_core.chats.model import Message, Role
from mynth_core.generation.ports import PromptMessage

CHARS_PER_TOKEN: Final = 3  # conservative when no tokenizer is configured
MESSAGE_OVERHEAD: Final = 4  # role and separators, per message
SUMMARY_TOKENS: Final = 600  # a rolling summary's ceiling
KEEP_VERBATIM: Final = 8
MAX_HISTORY_MESSAGES: Final = 200
LOAD_MESSAGES: Final = 2 * MAX_HISTORY_MESSAGES + 8  # always reaches the summary's anchor
RESERVE: Final = 256


def tokens(text: str) -> int:
    """A conservative token estimate: one token per three characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(content: str) -> int:
    """The estimated size of one prompt message."""
    return tokens(content) + MESSAGE_OVERHEAD


def prompt_tokens(messages: Sequence[PromptMessage]) -> int:
    """The estimated size of a rendered prompt."""
    return sum(message_tokens(m.content) for m in messages)


def prompt_budget(*, context_window: int, max_output_tokens: int, max_prompt_tokens: int) -> int:
    """min(context window - output - 256, the configured prompt ceiling)."""
    return max(0, min(context_window - max_output_tokens - RESERVE, max_prompt_tokens))


@attrs.frozen(kw_only=True)
class Plan:
    """The history to send verbatim, the turns to fold, and the ones dropped outright."""

    keep: tuple[Message, ...]
    fold: tuple[Message, ...] = ()
    dropped: tuple[Message, ...] = ()


def plan_history(history: Sequence[Message], *, available: int) -> Plan:
    """Choose the verbatim history for `available` tokens (fixed parts already counted).

    `history` is the branch after the current summary's anchor, oldest first, without the
    latest user message. Folding is chosen here and done by the caller.
    """
    sizes = [message_tokens(m.content) for m in history]
    if sum(sizes) <= available and len(history) <= MAX_HISTORY_MESSAGES:
        return Plan(keep=tuple(history))
    target = max(0, (available - SUMMARY_TOKENS) // 2)
    start = 0
    total = sum(sizes)
    limit = len(history) - KEEP_VERBATIM
    while start < limit and (total > target or len(history) - start > MAX_HISTORY_MESSAGES):
        step = _pair_end(history, start, limit)
        total -= sum(sizes[start:step])
        start = step
    fold = tuple(history[:start])
    keep = list(history[start:])
    keep_sizes = sizes[start:]
    budget = max(0, available - (SUMMARY_TOKENS if fold else 0))
    dropped: list[Message] = []
    while keep and sum(keep_sizes) > budget:
        dropped.append(keep.pop(0))
        keep_sizes.pop(0)
    return Plan(keep=tuple(keep), fold=fold, dropped=tuple(dropped))


def _pair_end(history: Sequence[Message], start: int, limit: int) -> int:
    """The index after the whole turn that starts at `start` (a user message and its reply)."""
    end = start + 1
    while end < limit and history[end].role is Role.ASSISTANT:
        end += 1
    return end
