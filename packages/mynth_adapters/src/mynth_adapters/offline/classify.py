"""The offline classifier: a publish classification read from the persona's own words.

It answers `CLASSIFICATION_SCHEMA` (PRODUCT.md §5.2) from the persona JSON block that
`publish_classify.user.j2` embeds: the headline is the name and the summary (at most 80
characters), the rating is always `sfw`, the gender comes from the data's gender text, the
age bucket from a number in its age text (else `unknown`), and 2 to 5 curated tags from words
of the data. A pure function of the persona: the same data always gets the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from mynth_adapters.offline.writer import clip, excerpt, gender_of
from mynth_core.publishing.model import HEADLINE_LIMIT, AgeBucket, NsfwRating, TagCategory
from mynth_core.publishing.prompts import CURATED_TAGS

MIN_TAGS: Final = 2
MAX_TAGS: Final = 5
_NUMBER: Final = re.compile(r"\d+")
_LETTERS: Final = re.compile(r"[a-z]+")
_TEXT_FIELDS: Final = ("appearance", "personality", "background", "summary", "occupation")
_AGE_BUCKETS: Final = (  # the youngest age of each bucket, oldest first
    (65, AgeBucket.SENIOR),
    (55, AgeBucket.ADULT_55),
    (45, AgeBucket.ADULT_45),
    (35, AgeBucket.ADULT_35),
    (25, AgeBucket.ADULT_25),
    (18, AgeBucket.YOUNG_ADULT),
    (13, AgeBucket.TEEN),
    (6, AgeBucket.CHILD),
    (0, AgeBucket.TODDLER),
)
_AGE_TAGS: Final[Mapping[AgeBucket, str]] = {
    AgeBucket.YOUNG_ADULT: "young-adult",
    AgeBucket.ADULT_25: "adult",
    AgeBucket.ADULT_35: "adult",
    AgeBucket.ADULT_45: "middle-aged",
    AgeBucket.ADULT_55: "middle-aged",
    AgeBucket.SENIOR: "elderly",
}
# Words that also name a curated tag (beside the tag's own words, hyphens read as spaces).
_SYNONYMS: Final[Mapping[str, tuple[str, ...]]] = {
    "blonde": ("blond", "golden hair", "fair hair"),
    "brunette": ("brown hair", "chestnut hair"),
    "redhead": ("red hair", "ginger", "auburn", "copper hair"),
    "black-hair": ("raven hair", "jet black hair"),
    "tattoos": ("tattoo", "tattooed", "inked"),
    "freckles": ("freckled",),
    "glasses": ("spectacles", "monocle"),
    "scarred": ("scar", "scars"),
    "elegant": ("graceful", "refined", "poised"),
    "rugged": ("weathered", "grizzled"),
    "kind": ("gentle", "kindly", "warm hearted"),
    "shy": ("timid", "bashful"),
    "confident": ("bold", "self assured"),
    "sarcastic": ("sarcasm", "sardonic", "dry humour", "dry humor", "wry"),
    "mysterious": ("enigmatic", "secretive", "secret", "secrets"),
    "playful": ("mischievous", "teasing", "cheerful"),
    "stoic": ("reserved", "impassive", "calm"),
    "protective": ("loyal", "guardian", "protects"),
    "rebellious": ("rebel", "defiant"),
    "caring": ("compassionate", "nurturing"),
    "athletic": ("athlete", "agile"),
    "tall": ("towering",),
    "petite": ("small frame", "slight"),
    "muscular": ("muscles", "brawny", "broad shouldered"),
    "curvy": ("voluptuous",),
    "slender": ("slim", "lithe", "wiry"),
    "fantasy": ("magic", "dragon", "elf", "elven", "sorcerer", "wizard", "witch", "enchanted"),
    "sci-fi": ("space", "starship", "android", "cyberpunk", "robot", "spaceship", "galaxy"),
    "modern": ("city", "office", "smartphone", "startup"),
    "historical": ("medieval", "victorian", "ancient", "renaissance", "regency"),
    "romance": ("romantic", "lover", "love story"),
    "horror": ("ghost", "ghosts", "haunted", "monster", "undead", "vampire"),
    "adventure": ("explorer", "voyage", "quest", "expedition", "sailor", "ships"),
    "slice-of-life": ("cafe", "bakery", "neighbourhood", "everyday"),
    "mystery": ("mysteries", "riddle", "clues", "unsolved"),
    "comedy": ("comedian", "jokes", "funny", "clown"),
    "villain": ("villainous", "evil", "tyrant"),
    "hero": ("heroic", "heroine", "champion"),
    "mentor": ("teacher", "tutor", "master"),
    "royalty": ("king", "queen", "prince", "princess", "emperor", "empress", "royal"),
    "detective": ("investigator", "sleuth", "inspector"),
    "artist": ("painter", "sculptor", "musician", "poet"),
    "pirate": ("buccaneer", "corsair"),
}
# When the data names fewer than MIN_TAGS, these fill the list (in order).
_FALLBACK_TAGS: Final = ("mysterious", "modern")


def write_classification(persona: Mapping[str, object]) -> dict[str, object]:
    """A `CLASSIFICATION_SCHEMA` answer for `persona` (the JSON of `persona_json`)."""
    name = _text(persona.get("name")) or "Unnamed"
    summary = excerpt(_text(persona.get("summary")), HEADLINE_LIMIT)
    headline = clip(f"{name}: {summary}." if summary else name, HEADLINE_LIMIT)
    age = age_bucket(_text(persona.get("age")))
    return {
        "headline": headline,
        "nsfw_rating": NsfwRating.SFW.value,
        "gender": gender_of(_text(persona.get("gender"))) or "other",
        "age_bucket": age.value,
        "tags": [
            {"name": tag, "category": category.value}
            for tag, category in curated_tags(_texts_of(persona), age)
        ],
    }


def age_bucket(age: str) -> AgeBucket:
    """The bucket of the first number in `age` ("34", "34 years"); `unknown` without one."""
    found = _NUMBER.search(age.replace(",", ""))
    if found is None:
        return AgeBucket.UNKNOWN
    years = int(found.group())
    return next(bucket for youngest, bucket in _AGE_BUCKETS if years >= youngest)


def curated_tags(texts: Iterable[str], age: AgeBucket) -> list[tuple[str, TagCategory]]:
    """2 to 5 curated tags whose words (or synonyms) the texts use.

    One category at a time (the first match of each category, then the second...), with the
    age tag of `age` after the first round; fallbacks fill a list of fewer than two.
    """
    words = " " + " ".join(_LETTERS.findall(" ".join(texts).lower())) + " "
    rounds = [
        [tag for tag in tags if any(f" {phrase} " in words for phrase in _phrases(tag))]
        for category, tags in CURATED_TAGS.items()
        if category is not TagCategory.AGE
    ]
    found = [tags[depth] for depth in range(MAX_TAGS) for tags in rounds if depth < len(tags)]
    first_round = sum(1 for tags in rounds if tags)
    if (age_tag := _AGE_TAGS.get(age)) is not None:
        found.insert(first_round, age_tag)
    chosen = found[:MAX_TAGS]
    for tag in _FALLBACK_TAGS:
        if len(chosen) < MIN_TAGS and tag not in chosen:
            chosen.append(tag)
    category_of = {tag: category for category, tags in CURATED_TAGS.items() for tag in tags}
    return [(tag, category_of[tag]) for tag in chosen]


def _phrases(tag: str) -> tuple[str, ...]:
    return (tag.replace("-", " "), *_SYNONYMS.get(tag, ()))


def _texts_of(persona: Mapping[str, object]) -> list[str]:
    texts = [_text(persona.get(field)) for field in _TEXT_FIELDS]
    extensions = persona.get("extensions")
    if isinstance(extensions, Mapping):
        texts += [_text(value) for value in extensions.values()]
    return texts


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
