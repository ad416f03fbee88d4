"""The offline image-prompt writer: one deterministic paragraph from an image-prompt request.

It reads back what `image_prompt.system.j2` and `image_prompt.user.j2` wrote: the system
part's first line marks the request, the user part's lines carry the character, appearance,
style and shot. The answer starts with `<name> (<age>, <gender>): `, which `subject_of` reads
back, so the offline renderer can put the persona's name and initials on its picture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from mynth_core.generation.ports import PromptMessage, Role
from mynth_core.images.prompts import SHOT_PHRASES, STYLE_PHRASES
from mynth_core.images.registry import PROMPT_LIMIT, Shot, Style

IMAGE_PROMPT_MARKER: Final = re.compile(
    r"\AYou are an expert text-to-image prompt writer for (?P<target>.+?)\. "
)
"""The first line of `image_prompt.system.j2`, which names the target model."""

_CHARACTER: Final = re.compile(
    r"^Character: (?P<name>.*?) \(age: (?P<age>.*?); gender: (?P<gender>.*?)\)$", re.MULTILINE
)
_APPEARANCE: Final = re.compile(r"^Appearance: ", re.MULTILINE)
_SETTINGS: Final = re.compile(
    r"^Style: (?P<style>auto|realistic|anime|cinematic)\n"
    r"Shot: (?P<shot>portrait|full body)\n"
    r"Content: ",
    re.MULTILINE,
)
_SUBJECT: Final = re.compile(r"\A(?P<name>[^():\n]{1,100}?) \([^()\n]{0,120}\): ")
_NAME_CHARS: Final = 100
_DETAIL_CHARS: Final = 40


def write_image_prompt(messages: Sequence[PromptMessage]) -> str | None:
    """The crafted prompt for an image-prompt request; None when `messages` is not one.

    `<name> (<age>, <gender>): <appearance>, <style phrase>, <shot phrase>`, on one line,
    at most 3000 characters.
    """
    if not messages or messages[0].role is not Role.SYSTEM:
        return None
    if not IMAGE_PROMPT_MARKER.match(messages[0].content):
        return None
    data = next((m.content for m in reversed(messages) if m.role is Role.USER), "")
    settings = _SETTINGS.search(data)
    style = Style(settings["style"]) if settings else Style.AUTO
    shot = Shot.PORTRAIT if settings and settings["shot"] == "portrait" else Shot.FULL_BODY
    character = _CHARACTER.search(data)
    appearance = ""
    if (start := _APPEARANCE.search(data)) is not None:
        end = settings.start() if settings and settings.start() > start.end() else len(data)
        appearance = _line(data[start.end() : end]).rstrip(" .,;")
    parts = [appearance, STYLE_PHRASES[style], SHOT_PHRASES[shot]]
    body = ", ".join(part for part in parts if part)
    if character is None:
        return body[:PROMPT_LIMIT]
    name = _clip(_line(character["name"]).replace("(", "").replace(")", ""), _NAME_CHARS)
    details = ", ".join(
        _clip(_line(character[key]).replace("(", "").replace(")", ""), _DETAIL_CHARS)
        for key in ("age", "gender")
    )
    name = name.replace(":", "") or "The character"
    return f"{name} ({details}): {body}"[:PROMPT_LIMIT]


def subject_of(prompt: str) -> str | None:
    """The name at the head of a prompt `write_image_prompt` wrote, else None."""
    found = _SUBJECT.match(prompt)
    return (found["name"].strip() or None) if found else None


def _line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
