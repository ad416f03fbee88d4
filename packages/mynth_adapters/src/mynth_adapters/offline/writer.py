"""The offline persona writer: a plausible persona assembled from a prompt and fixed word lists.

Everything is a pure function of the prompt and a `Seed` (a SHA-256 digest of the request), so
the same request always gives the same persona. No global random state is touched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeVar

import attrs

from mynth_adapters.offline import words as w

T = TypeVar("T")

NAME_LIMIT: Final = 100
SUMMARY_LIMIT: Final = 600
TITLE_LIMIT: Final = 100
TEXT_LIMIT: Final = 8000
CONFIGURE_HINT: Final = "set MYNTH_OPENROUTER_API_KEY to use a real language model"

_WORD = re.compile(r"[^\W\d_][\w'-]*")
_NAMED = re.compile(r"\b(?:named|called)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})")
_AGE = re.compile(
    r"\b(\d{1,3})[\s-]*(?:years?|yrs?)[\s-]*old\b|\baged?\s+(\d{1,3})\b", re.IGNORECASE
)
_REQUEST_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:create|make|generate|write|design|give|build)\s+(?:me\s+)?"
    r"(?:an?\s+)?(?:persona|character)?\s*(?:who\s+is|of|about|for|:)?\s*",
    re.IGNORECASE,
)
_SKIPPED: Final = w.REQUEST_WORDS | w.FEMALE_WORDS | w.MALE_WORDS | w.HOBBY_WORDS
_MAX_KEYWORDS: Final = 4
_MAX_KEYWORD_CHARS: Final = 24
_MAX_AGE: Final = 150
_MAX_EXTENSIONS: Final = 3
_PRONOUNS: Final[Mapping[str, tuple[str, str]]] = {
    "female": ("her", "her"),
    "male": ("him", "his"),
    "other": ("them", "their"),
}
_GIVEN_NAMES: Final[Mapping[str, Sequence[str]]] = {
    "female": w.FEMALE_NAMES,
    "male": w.MALE_NAMES,
    "other": w.NEUTRAL_NAMES,
}


@attrs.frozen
class Seed:
    """Deterministic choices derived from one SHA-256 digest; `salt` keeps choices independent."""

    digest: bytes

    @classmethod
    def of(cls, parts: Iterable[str]) -> Seed:
        hasher = hashlib.sha256()
        for part in parts:
            hasher.update(part.encode())
            hasher.update(b"\x00")
        return cls(hasher.digest())

    def number(self, salt: str, low: int, high: int) -> int:
        """An integer in `[low, high]`."""
        mixed = hashlib.sha256(self.digest + salt.encode()).digest()
        return low + int.from_bytes(mixed[:8], "big") % (high - low + 1)

    def pick(self, salt: str, options: Sequence[T]) -> T:
        return options[self.number(salt, 0, len(options) - 1)]


@attrs.frozen
class Who:
    """How sentences refer to a persona: the name as subject, then object/possessive pronouns."""

    name: str
    gender: str

    def fill(self, template: str, **values: str) -> str:
        """`template` (ours, never user text) with `{name}`, `{them}`, `{their}` and `values`."""
        them, their = _PRONOUNS.get(self.gender, _PRONOUNS["other"])
        return template.format(name=self.name, them=them, their=their, **values)


def tokens(text: str) -> list[str]:
    """The words of `text`, lower-cased."""
    return [match.group().lower() for match in _WORD.finditer(text)]


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def excerpt(text: str, limit: int) -> str:
    """`text` on one line, without trailing full stops, clipped to `limit`."""
    return clip(" ".join(text.split()).rstrip(".!? "), limit)


def append(current: str, addition: str, limit: int = TEXT_LIMIT) -> str:
    """`current` followed by `addition`, shortening `current` so that `addition` always fits."""
    room = limit - len(addition) - 1
    return f"{clip(current.strip(), room)} {addition}".strip()


def gender_of(text: str) -> str | None:
    """`female` or `male` from the first gendered word in `text`; None when there is none."""
    for token in tokens(text):
        if token in w.FEMALE_WORDS:
            return "female"
        if token in w.MALE_WORDS:
            return "male"
    return None


def keywords(text: str) -> list[str]:
    """The first few content words of `text`, each at most 24 characters."""
    found: list[str] = []
    for token in tokens(text):
        word = token[:_MAX_KEYWORD_CHARS]
        if len(word) > 2 and word not in _SKIPPED and word not in found:  # noqa: PLR2004 - short words say little
            found.append(word)
        if len(found) == _MAX_KEYWORDS:
            break
    return found


def listing(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(items) < 2:  # noqa: PLR2004 - one item needs no joining
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def write_persona(prompt: str, seed: Seed) -> dict[str, object]:
    """A whole persona for `PERSONA_SCHEMA`, built around `prompt`."""
    gender = gender_of(prompt) or seed.pick("gender", ("female", "male", "other"))
    who = Who(clip(_name(prompt, gender, seed), NAME_LIMIT), gender)
    occupation = _occupation(prompt) or seed.pick("occupation", w.DEFAULT_OCCUPATIONS)
    trait = seed.pick("traits", w.TRAITS)[0]
    setting = seed.pick("setting", w.SETTINGS)
    themes = [f"“{word}”" for word in keywords(_NAMED.sub("", prompt))] or ["an old secret"]
    summary = f"A {trait} {occupation} from {setting}, {who.name} lives a story shaped by "
    return {
        "title": clip(f"{who.name}, the {trait} {occupation}", TITLE_LIMIT),
        "note_for_user": (
            "Written by Mynth's offline generator from built-in templates, not by a language "
            f"model; {CONFIGURE_HINT}, then regenerate, enhance or expand a property for "
            "richer detail."
        ),
        "name": who.name,
        "age": _age(prompt, seed),
        "gender": gender,
        "summary": clip(f"{summary}{listing(themes)}.", SUMMARY_LIMIT),
        "appearance": appearance(seed),
        "personality": personality(who, seed),
        "background": background(who, _idea(prompt), seed),
        "occupation": occupation[0].upper() + occupation[1:],
        "extensions": [{"key": k, "value": v} for k, v in _extensions(prompt, seed)],
    }


def appearance(seed: Seed) -> str:
    """A purely visual description: build, face, eyes, hair, clothing, makeup, one mark."""
    build, face = seed.pick("build", w.BUILDS), seed.pick("face", w.FACES)
    eyes, hair = seed.pick("eyes", w.EYES), seed.pick("hair", w.HAIR)
    return (
        f"{build[0].upper()}{build[1:]}, {face}, {eyes} eyes and {hair}. Usually dressed in "
        f"{seed.pick('clothing', w.CLOTHING)}. {seed.pick('makeup', w.MAKEUP)}. "
        f"One detail people remember: {seed.pick('mark', w.MARKS)}."
    )


def personality(who: Who, seed: Seed) -> str:
    """A trait and its contradiction, a speech pattern, how they treat others."""
    trait, contradiction = seed.pick("traits", w.TRAITS)
    return who.fill(
        "{name} is {trait}, yet {contradiction}. {name} {speech}. "
        "Strangers get courtesy and little else; friends get {their} whole attention, "
        "a sharp tongue and a loyalty that does not bend.",
        trait=trait,
        contradiction=contradiction,
        speech=seed.pick("speech", w.SPEECH),
    )


def background(who: Who, idea: str, seed: Seed) -> str:
    """Birthplace, upbringing, a turn, `idea` as how others see them, and a secret."""
    turn = who.fill(seed.pick("turn", w.TURNS))
    secret = who.fill(seed.pick("secret", w.SECRETS))
    return who.fill(
        "{name} was born in {setting} and grew up {upbringing}. {turn}. Those who know "
        "{them} best sum {them} up in a few words: “{idea}”. Few know that {secret}.",
        setting=seed.pick("setting", w.SETTINGS),
        upbringing=seed.pick("upbringing", w.UPBRINGINGS),
        turn=turn,
        idea=idea,
        secret=secret,
    )


def hobbies(seed: Seed, favourite: str | None = None) -> str:
    """One or two pastimes, and the `favourite` thing the prompt named, if any."""
    first, second = (seed.pick(f"hobby{i}", w.HOBBIES) for i in (1, 2))
    text = listing(list(dict.fromkeys((first, second))))
    text = text[0].upper() + text[1:]
    return f"{text}, and above all {favourite}." if favourite else f"{text}."


def _name(prompt: str, gender: str, seed: Seed) -> str:
    if match := _NAMED.search(prompt):
        return match.group(1)
    return f"{seed.pick('given', _GIVEN_NAMES[gender])} {seed.pick('surname', w.SURNAMES)}"


def _age(prompt: str, seed: Seed) -> str:
    match = _AGE.search(prompt)
    stated = int(match.group(1) or match.group(2)) if match else 0
    if 0 < stated <= _MAX_AGE:
        return str(stated)
    found = set(tokens(prompt))
    if found & w.OLD_WORDS:
        return str(seed.number("age", 62, 84))
    if found & w.YOUNG_WORDS:
        return str(seed.number("age", 19, 26))
    return str(seed.number("age", 24, 58))


def _occupation(prompt: str) -> str | None:
    return next((token for token in tokens(prompt) if token in w.OCCUPATIONS), None)


def _idea(prompt: str) -> str:
    """The prompt paraphrased as a description: the request's lead-in ("create a …") dropped."""
    idea = excerpt(_REQUEST_LEAD.sub("", prompt, count=1), 160) or excerpt(prompt, 160)
    return idea[0].lower() + idea[1:] if idea[:1].isupper() and idea[1:2].islower() else idea


def _extensions(prompt: str, seed: Seed) -> list[tuple[str, str]]:
    found = tokens(prompt)
    items: list[tuple[str, str]] = []
    hobby_at = next((i for i, t in enumerate(found) if t in w.HOBBY_WORDS), None)
    if hobby_at is not None:
        favourite = next(iter(keywords(" ".join(found[hobby_at + 1 :]))), None)
        items.append(("hobbies", hobbies(seed, favourite)))
    start = seed.number("extras", 0, len(w.EXTRAS) - 1)
    count = seed.number("extra_count", 0, 2)
    items.extend(w.EXTRAS[(start + offset) % len(w.EXTRAS)] for offset in range(count))
    return items[:_MAX_EXTENSIONS]
