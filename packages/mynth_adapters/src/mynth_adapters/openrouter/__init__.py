"""OpenRouter and other OpenAI-compatible chat-completions servers (PROVIDERS §1)."""

from __future__ import annotations

from mynth_adapters.openrouter.client import (
    CHAT_TIMEOUT,
    OPENAI_COMPATIBLE,
    OPENROUTER,
    TEXT_RETRY,
    OpenAICompatChatModel,
    chat_client,
    is_openrouter_url,
)

__all__ = [
    "CHAT_TIMEOUT",
    "OPENAI_COMPATIBLE",
    "OPENROUTER",
    "TEXT_RETRY",
    "OpenAICompatChatModel",
    "chat_client",
    "is_openrouter_url",
]
