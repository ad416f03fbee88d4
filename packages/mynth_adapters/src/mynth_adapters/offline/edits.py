"""The offline edits: enhance and property actions that visibly change the targeted text.

Both read the current persona back from the `<persona_json>` data block the Jinja templates
embed in the prompt, so they work on exactly what a real model would have seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Final

from mynth_adapters.offline import words as w
from mynth_adapters.offline.writer import (
    CONFIGURE_HINT,
    TEXT_LIMIT,
    Seed,
    Who,
    appearance,
    append,
    background,
    clip,
    excerpt,
    gender_of,
    hobbies,
    personality,
)
from mynth_adapters.prompts import PERSONA_BLOCK_START
from mynth_core.errors import ProviderRejectedError
from mynth_core.generation.ports import PromptMessage

_BLOCK = re.compile(rf"^{re.escape(PERSONA_BLOCK_START)}[ \t]*\n\s*(?=\{{)", re.MULTILINE)
_ACTION = re.compile(r"^Action:\s*(expand|rewrite|create)\s*$", re.MULTILINE | re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_BUILT_INS: Final = ("appearance", "personality", "background", "occupation")
_INSTRUCTION_CHARS: Final = 200
_SHIFTS: Final = (
    (
        "Since taking “{idea}” to heart, {name} has changed in ways friends notice at once: "
        "quicker to act, slower to explain."
    ),
    (
        "Lately {name} has been living out “{idea}”, and it shows in how {name} treats "
        "everyone nearby: with new purpose and a little less patience."
    ),
    (
        "Everything about “{idea}” has reshaped {name}'s temper; old habits linger, but "
        "{their} choices now point somewhere new."
    ),
)


def find_persona(messages: Iterable[PromptMessage]) -> Mapping[str, object]:
    """The persona in the first `<persona_json>` data block of `messages`.

    A block is the tag alone on its line followed by a JSON object; the tag named in prose
    ("between <persona_json> tags") is not a block.

    Raises:
        ProviderRejectedError: no message holds a readable persona block.
    """
    decoder = json.JSONDecoder()
    for message in messages:
        for block in _BLOCK.finditer(message.content):
            try:
                document, _ = decoder.raw_decode(message.content, block.end())
            except ValueError:
                continue
            if isinstance(document, dict):
                return document
    raise ProviderRejectedError(detail="offline generator: the prompt has no persona data block")


def write_changes(persona: Mapping[str, object], instruction: str, seed: Seed) -> dict[str, object]:
    """A `PERSONA_CHANGES_SCHEMA` answer: the instruction woven into personality and background."""
    who = _who(persona)
    idea = excerpt(instruction, _INSTRUCTION_CHARS)
    shift = who.fill(seed.pick("shift", _SHIFTS), idea=idea)
    turn = who.fill("The newest chapter of {name}'s story begins with “{idea}”.", idea=idea)
    return {
        "title": None,
        "note_for_user": (
            f"Offline edit: added “{idea}” to the personality and the background; "
            f"{CONFIGURE_HINT} for thoughtful edits. Next, try expanding the appearance to match."
        ),
        "name": None,
        "age": None,
        "gender": None,
        "summary": None,
        "appearance": None,
        "personality": append(_text(persona, "personality"), shift),
        "background": append(_text(persona, "background"), turn),
        "occupation": None,
        "extensions": [],
    }


def write_property(
    persona: Mapping[str, object], name: str, action: str | None, seed: Seed
) -> dict[str, str]:
    """A `property_schema(name)` answer for `action` (expand, rewrite or create)."""
    current = _property(persona, name)
    who = _who(persona)
    if current is None:
        text = _create(persona, name, who, seed)
    elif action == "rewrite":
        text = _rewrite(current, seed)
    elif action == "create":
        text = _create(persona, name, who, seed)
        text = text if text != current else append(current, _detail(name, who, seed))
    else:
        text = append(current, _detail(name, who, seed))
    return {name: text}


def action_of(messages: Iterable[PromptMessage]) -> str | None:
    """The `Action:` line the property-action template writes into its system part."""
    for message in messages:
        if match := _ACTION.search(message.content):
            return match.group(1).lower()
    return None


def _create(persona: Mapping[str, object], name: str, who: Who, seed: Seed) -> str:
    if name in _BUILT_INS:
        return _create_built_in(persona, name, who, seed)
    if name == "hobbies":
        return hobbies(seed)
    if known := dict(w.EXTRAS).get(name):
        return f"{known} {_sensory(who, seed)}"
    occupation = _text(persona, "occupation") or "never the same job for long"
    return who.fill(
        "When it comes to {words}, {name} is shaped by {their} work ({occupation}). {sensory}",
        words=name.replace("_", " "),
        occupation=occupation[0].lower() + occupation[1:],
        sensory=_sensory(who, seed),
    )


def _create_built_in(persona: Mapping[str, object], name: str, who: Who, seed: Seed) -> str:
    if name == "appearance":
        return appearance(seed)
    if name == "personality":
        return personality(who, seed)
    if name == "background":
        summary = excerpt(_text(persona, "summary"), 160) or "a life lived quietly"
        return background(who, summary, seed)
    occupation = seed.pick("occupation", w.DEFAULT_OCCUPATIONS)
    return occupation[0].upper() + occupation[1:]


def _rewrite(current: str, seed: Seed) -> str:
    body, used = current.strip(), None
    for lead in w.LEAD_INS:
        if body.startswith(lead):
            body, used = body.removeprefix(lead).strip(), lead
            break
    sentences = _SENTENCE_END.split(body)
    lead = seed.pick("lead", [lead for lead in w.LEAD_INS if lead != used])
    rotated = " ".join(sentences[1:] + sentences[:1])
    return f"{lead} {clip(rotated, TEXT_LIMIT - len(lead) - 1)}"


def _detail(name: str, who: Who, seed: Seed) -> str:
    """One more concrete sentence for `name`; purely visual for the appearance."""
    if name == "appearance":
        return f"Look closer and you notice {seed.pick('mark', w.MARKS)}."
    return _sensory(who, seed)


def _sensory(who: Who, seed: Seed) -> str:
    return who.fill(seed.pick("sensory", w.SENSORY), scent=seed.pick("scent", w.SCENTS)) + "."


def _who(persona: Mapping[str, object]) -> Who:
    gender = gender_of(_text(persona, "gender")) or "other"
    return Who(_text(persona, "name") or "This persona", gender)


def _text(persona: Mapping[str, object], field: str) -> str:
    value = persona.get(field)
    return value if isinstance(value, str) else ""


def _property(persona: Mapping[str, object], name: str) -> str | None:
    if name in _BUILT_INS:
        value = persona.get(name)
    else:
        extensions = persona.get("extensions")
        value = extensions.get(name) if isinstance(extensions, dict) else None
    return value if isinstance(value, str) and value.strip() else None
