"""Prompt rendering: the Jinja adapter of `PromptRenderer` and the templates it ships."""

from __future__ import annotations

from mynth_adapters.prompts.renderer import (
    PERSONA_BLOCK_END,
    PERSONA_BLOCK_START,
    PROMPT_TEMPLATE_VERSION,
    JinjaPromptRenderer,
    PromptTemplateError,
    UnknownPromptTemplateError,
    json_block,
    prompt_environment,
)

__all__ = [
    "PERSONA_BLOCK_END",
    "PERSONA_BLOCK_START",
    "PROMPT_TEMPLATE_VERSION",
    "JinjaPromptRenderer",
    "PromptTemplateError",
    "UnknownPromptTemplateError",
    "json_block",
    "prompt_environment",
]
