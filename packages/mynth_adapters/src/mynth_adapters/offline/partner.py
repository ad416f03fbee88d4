"""The offline chat partner: roleplay replies, story chapters, continuations and summaries.

Each answer reads back what the Jinja chat templates wrote into the prompt: the roleplay's
opening "You are …" line, the story's "Chapter rule:" line, the continue instruction, the
rolling summary's numbered turns and the persona data block of the roleplay summary. So the
offline generator answers exactly what a real model would have been asked, and the tests that
render the real templates keep both sides in step. Everything is a pure function of the prompt
and a `Seed`; user text is only ever a value, never a format template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from mynth_adapters.offline.writer import (
    CONFIGURE_HINT,
    Seed,
    Who,
    clip,
    excerpt,
    gender_of,
    listing,
)
from mynth_adapters.offline.writer import keywords as content_words
from mynth_core.generation.ports import PromptMessage, Role

ROLEPLAY_MARKER: Final = re.compile(
    r"\AYou are (?P<name>.+?)\. You take part in a roleplay with the user\b", re.DOTALL
)
"""The first line of `chat_roleplay.system.j2`, which names the character."""
STORY_MARKER: Final = re.compile(
    r"^Chapter rule: write exactly one chapter, number (?P<number>\d+)\.$", re.MULTILINE
)
"""The chapter rule of `chat_story.system.j2`, which carries the number to write."""
CONTINUE_MARKER: Final = re.compile(r"\AContinue your last (?P<what>chapter|reply) seamlessly\b")
"""The first line of `chat_continue.user.j2`."""
ROLLING_MARKER: Final = re.compile(
    r"\AYou keep the running account of a long interactive story starring (?P<name>.+?)\. "
    r"The earlier turns\b",
    re.DOTALL,
)
"""The first line of `rolling_summary.system.j2`."""

_STORY_NAME: Final = re.compile(r"^Main character: (?P<name>.+)$", re.MULTILINE)
_GENDER: Final = re.compile(r"^Gender: (?P<gender>.+)$", re.MULTILINE)
_PREVIOUS: Final = re.compile(
    r"^The earlier account:\n<summary>\n(?P<text>.*?)\n</summary>$", re.MULTILINE | re.DOTALL
)
_TURNS_START: Final = "<turns>\n"
_TURNS_END: Final = "\n</turns>"
_TURN: Final = re.compile(r"^\[(?P<number>\d+)\] (?P<speaker>.+):$", re.MULTILINE)

_ECHO_CHARS: Final = 160
_PREVIOUS_CHARS: Final = 700
_TURN_CHARS: Final = 140
_RECENT_TURNS: Final = 3
_NAME_CHARS: Final = 100
_STEER_WORDS: Final = frozenset({"", "continue", "go on", "next", "more", "keep going"})

_APPEARANCE_WORDS: Final = 90
_PERSONALITY_WORDS: Final = 40
_BACKGROUND_WORDS: Final = 50
_INTERESTS_WORDS: Final = 25
_SKILLS_WORDS: Final = 25
_MOTIVATIONS_WORDS: Final = 32
_INTEREST_KEYS: Final = ("hobbies", "interests", "passions", "pastimes")
_INTEREST_PREFIXES: Final = ("favorite_", "favourite_", "top_")
_SKILL_KEYS: Final = ("skills", "abilities", "talents", "strengths", "expertise")
_MOTIVE_KEYS: Final = ("goals", "motivations", "ambitions", "dreams")
_SENTENCE_END: Final = re.compile(r"(?<=[.!?…])\s+")
_PHRASE_BREAK: Final = re.compile(r"\s*(?:[.;!?…]+\s+|[.;!?…]+$|\n+)\s*")

# --- roleplay -------------------------------------------------------------------------------------

_GESTURES: Final = (
    "leans back and studies you for a long moment",
    "sets down what {their} hands were busy with and looks up",
    "glances toward the window, then back at you",
    "lets out a slow breath and steps a little closer",
    "tilts {their} head, a half-smile tugging at the corner of {their} mouth",
    "goes still, the way people do when something lands harder than expected",
)
_THOUGHTS: Final = (
    "Careful. This matters more than it looks.",
    "Of all the things to say, and right now.",
    "Interesting. Very interesting.",
    "Do not let it show.",
    "So that is where this is going.",
)
_REACTIONS: Final = (
    "Now that is not something I hear every day.",
    "You have a way of saying things that makes them hard to ignore.",
    "I was wondering when you would bring that up.",
    "Well. That changes the evening a little.",
    "Say that again, slower, so I know you mean it.",
)
_TAGS: Final = ("says", "murmurs", "says quietly", "answers at last", "says, almost smiling")
_OPENINGS: Final = (
    "So tell me, what happens next?",
    "Go on. I am listening.",
    "And what would you do, in my place?",
    "Where do you want to start?",
    "Your move.",
)
_DETAILS: Final = (
    "Somewhere nearby a door creaks, and the moment stretches.",
    "The light shifts, and for a heartbeat neither of you moves.",
    "A gust of cold air slips in and stirs the loose papers on the table.",
    "Outside, the rain picks up, drumming softly against the glass.",
)

# --- story ----------------------------------------------------------------------------------------

_TITLE_FORMS: Final = ("The {word}", "A Matter of {word}", "Beyond the {word}", "{word} at Dusk")
_TITLES: Final = (
    "A Quiet Harbour",
    "The Long Night",
    "What the Tide Left",
    "An Unexpected Letter",
    "The Turning Road",
)
_OPENINGS_STORY: Final = (
    (
        "The morning came in grey and slow, and {name} was already awake, listening to the "
        "small sounds of the world starting up again."
    ),
    (
        "By the time the lamps were lit, {name} had walked the length of the town twice, as if "
        "the streets themselves might offer an answer."
    ),
    (
        "Rain had settled over everything by noon, and {name} watched it from the doorway, "
        "turning the last few days over in {their} mind."
    ),
)
_STEERED: Final = (
    (
        "What followed grew out of a single thread: {echo} {name} took it up without "
        "hurrying, one careful step after another, and let it lead where it would."
    ),
    (
        "It began, as the important things often do, with something small: {echo} {name} "
        "could not put it down, and before long the whole day had bent around it."
    ),
)
_UNSTEERED: Final = (
    (
        "The day moved on at its own pace. {name} kept to the familiar tasks, but something in "
        "the air had shifted, and every ordinary moment seemed to carry a little more weight."
    ),
    (
        "Nothing dramatic happened, not at first. {name} noticed things instead: a face that "
        "did not belong, a door left open, a silence where there used to be noise."
    ),
)
_RESTING: Final = (
    (
        "When evening finally came, {name} sat alone for a while and let the quiet settle. "
        "Whatever else tomorrow held, this part of the road was done."
    ),
    (
        "Later, with the light fading, {name} allowed {them}self a moment of stillness. It had "
        "been a long day, and for now it was enough."
    ),
)

# --- continue -------------------------------------------------------------------------------------

_STORY_ON: Final = (
    (
        "For a while nothing more was said, and {name} let the quiet settle over everything "
        "that had just happened."
    ),
    (
        "Only much later did {name} realise how much had changed in those few minutes, and "
        "how little of it anyone else had noticed."
    ),
    "The moment passed, as moments do, but {name} carried it along like a stone in a pocket.",
)
_ROLEPLAY_ON: Final = (
    "{name} pauses, then adds more softly, “There is more to it than that, you know.”",
    "*Not yet,* {name} thinks, and lets the silence do the talking for a heartbeat longer.",
    "{name} shakes {their} head slowly. “Forget I said that. Or don't. Your choice.”",
)
_GENERIC_ON: Final = ("And so it went on, a little further than before.",)


@attrs.frozen
class _Turn:
    speaker: str
    text: str


def write_reply(messages: Sequence[PromptMessage], seed: Seed) -> str | None:
    """The answer to a plain-text chat prompt; None when `messages` is no chat prompt.

    The continue instruction is checked first (it follows a roleplay or story prompt), then
    the rolling summary, the story and the roleplay system messages.
    """
    system = messages[0].content if messages[0].role is Role.SYSTEM else ""
    last = messages[-1]
    if last.role is Role.USER and (match := CONTINUE_MARKER.match(last.content)):
        return continuation(system, story=match["what"] == "chapter", seed=seed)
    if ROLLING_MARKER.match(system):
        return rolling_summary(messages)
    if match := STORY_MARKER.search(system):
        return chapter(int(match["number"]), _character(system), _latest(messages), seed)
    if ROLEPLAY_MARKER.match(system):
        return roleplay(_character(system), _latest(messages), seed)
    return None


def roleplay(who: Who, message: str, seed: Seed) -> str:
    """One beat in character: an action with an inner thought, then a line ending in an opening."""
    echo = _quoted(message, _ECHO_CHARS)
    gesture = who.fill(seed.pick("gesture", _GESTURES))
    thought = seed.pick("thought", _THOUGHTS)
    first = (
        who.fill("{name} {gesture}, turning your words over: {echo}", gesture=gesture, echo=echo)
        if echo
        else who.fill("{name} {gesture} and waits.", gesture=gesture)
    )
    paragraphs = [f"{first} *{thought}*"]
    if seed.number("paragraphs", 2, 3) == 3:  # noqa: PLR2004 - a scene detail now and then
        paragraphs.append(seed.pick("detail", _DETAILS))
    paragraphs.append(
        who.fill(
            "“{reaction}” {name} {tag}. “{opening}”",
            reaction=seed.pick("reaction", _REACTIONS),
            tag=seed.pick("tag", _TAGS),
            opening=seed.pick("opening", _OPENINGS),
        )
    )
    return "\n\n".join(paragraphs)


def chapter(number: int, who: Who, message: str, seed: Seed) -> str:
    """A short chapter: the heading line `Chapter N: <title>`, three paragraphs and a note."""
    steered = excerpt(message, _ECHO_CHARS).lower() not in _STEER_WORDS
    echo = _quoted(message, _ECHO_CHARS)
    paragraphs = [
        who.fill(seed.pick("opening", _OPENINGS_STORY)),
        who.fill(seed.pick("steered", _STEERED), echo=echo)
        if steered
        else who.fill(seed.pick("unsteered", _UNSTEERED)),
        who.fill(seed.pick("resting", _RESTING)),
    ]
    note = (
        "Offline chapter, written from Mynth's built-in templates rather than by a language "
        f"model: {CONFIGURE_HINT}."
    )
    title = _title(message if steered else "", seed)
    return "\n\n".join([f"Chapter {number}: {title}", *paragraphs, "---", note])


def continuation(system: str, *, story: bool, seed: Seed) -> str:
    """One sentence that carries the continued message on, in its mode's voice."""
    if not (ROLEPLAY_MARKER.match(system) or STORY_MARKER.search(system)):
        return seed.pick("continue", _GENERIC_ON)
    return _character(system).fill(seed.pick("continue", _STORY_ON if story else _ROLEPLAY_ON))


def rolling_summary(messages: Sequence[PromptMessage]) -> str:
    """A short factual account: the earlier account, who took part, what was last said."""
    data = next((m.content for m in reversed(messages) if m.role is Role.USER), "")
    parts: list[str] = []
    if previous := _PREVIOUS.search(data):
        parts.append(clip(" ".join(previous["text"].split()), _PREVIOUS_CHARS))
    turns = _turns(data)
    if turns:
        speakers = list(dict.fromkeys(turn.speaker for turn in turns))
        count = f"{len(turns)} turn" if len(turns) == 1 else f"{len(turns)} turns"
        parts.append(f"Over {count}, {listing(speakers)} continued the story.")
        parts.extend(
            f"{turn.speaker} said: {_quoted(turn.text, _TURN_CHARS)}"
            for turn in turns[-_RECENT_TURNS:]
        )
    return " ".join(parts) or "Nothing of note has happened yet."


def write_roleplay_summary(persona: Mapping[str, object]) -> dict[str, str | None]:
    """A `roleplay_summary` answer taken from the persona data alone (nothing invented)."""
    extensions = persona.get("extensions")
    extras = {
        str(key): " ".join(value.split())
        for key, value in (extensions.items() if isinstance(extensions, dict) else ())
        if isinstance(value, str) and value.strip()
    }
    occupation = _field(persona, "occupation")
    motives = [occupation] if occupation else []
    motives += [extras[key] for key in _MOTIVE_KEYS if key in extras]
    motives = [motive.rstrip(".") for motive in motives]
    interests: list[tuple[str, str]] = [(k, extras[k]) for k in _INTEREST_KEYS if k in extras]
    interests += [(k, v) for k, v in extras.items() if k.startswith(_INTEREST_PREFIXES)]
    return {
        "appearance": _cap(", ".join(_phrases(_field(persona, "appearance"))), _APPEARANCE_WORDS),
        "personality": _cap(
            "; ".join(_fragments(_field(persona, "personality"))), _PERSONALITY_WORDS
        ),
        "background": _cap(
            " ".join(_sentences(_field(persona, "background"))[:2]), _BACKGROUND_WORDS
        ),
        "interests": _joined(interests, _INTERESTS_WORDS),
        "skills": _joined([(k, extras[k]) for k in _SKILL_KEYS if k in extras], _SKILLS_WORDS),
        "motivations": _cap("; ".join(motives), _MOTIVATIONS_WORDS) or None,
    }


def _character(system: str) -> Who:
    """The character a roleplay or story system message is about (its first naming line)."""
    found = ROLEPLAY_MARKER.match(system) or _STORY_NAME.search(system)
    name = " ".join(found["name"].split()) if found else ""
    gender = _GENDER.search(system)
    return Who(
        clip(name, _NAME_CHARS) or "The stranger",
        (gender_of(gender["gender"]) if gender else None) or "other",
    )


def _latest(messages: Sequence[PromptMessage]) -> str:
    """The latest user message ("" when the prompt has none)."""
    return next((m.content for m in reversed(messages) if m.role is Role.USER), "")


def _title(message: str, seed: Seed) -> str:
    words = content_words(message)
    if not words:
        return seed.pick("title", _TITLES)
    word = max(words, key=len)  # the longest content word is the likeliest subject
    return seed.pick("title_form", _TITLE_FORMS).format(word=word[0].upper() + word[1:])


def _turns(data: str) -> list[_Turn]:
    start = data.find(_TURNS_START)
    end = data.rfind(_TURNS_END)
    if start < 0 or end < start:
        return []
    block = data[start + len(_TURNS_START) : end]
    heads = list(_TURN.finditer(block))
    return [
        _Turn(head["speaker"], block[head.end() : after.start() if after else len(block)].strip())
        for head, after in zip(heads, [*heads[1:], None], strict=True)
    ]


def _quoted(text: str, limit: int) -> str:
    """`text` on one line in curly quotes, ending in punctuation; "" when it is blank."""
    line = clip(" ".join(text.split()), limit)
    if not line:
        return ""
    return f"“{line}”" if line[-1] in ".!?…" else f"“{line}.”"


def _field(persona: Mapping[str, object], name: str) -> str:
    value = persona.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


def _phrases(text: str) -> list[str]:
    return [phrase for phrase in _PHRASE_BREAK.split(text) if phrase]


def _fragments(text: str) -> list[str]:
    return [part for phrase in _phrases(text) for part in re.split(r",\s+", phrase) if part]


def _sentences(text: str) -> list[str]:
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]


def _joined(items: Iterable[tuple[str, str]], words: int) -> str | None:
    """Named extras as one plain line (`favorite foods: …`); None when there are none."""
    named = [
        value.rstrip(".")
        if key in _INTEREST_KEYS + _SKILL_KEYS
        else f"{key.replace('_', ' ')}: {value.rstrip('.')}"
        for key, value in items
    ]
    return _cap("; ".join(named), words) or None


def _cap(text: str, words: int) -> str:
    """`text` on one line, at most `words` words, marked with an ellipsis when cut."""
    found = text.split()
    if len(found) <= words:
        return " ".join(found)
    return " ".join(found[:words]).rstrip(" ,;:.") + "…"
