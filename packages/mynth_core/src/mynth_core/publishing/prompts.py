"""The classification prompt (PRODUCT.md §5.2) as a spec, its schema and its parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

import attrs

from mynth_core.errors import GenerationInvalidError
from mynth_core.generation.ports import JsonSchema
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.prompts import persona_json
from mynth_core.publishing.model import (
    AgeBucket,
    Classification,
    Gender,
    NsfwRating,
    TagCategory,
    clean_headline,
    normalise_tags,
)

CURATED_TAGS: Final = {
    TagCategory.APPEARANCE: (
        "blonde", "brunette", "redhead", "black-hair", "tattoos", "freckles", "glasses",
        "scarred", "elegant", "rugged",
    ),
    TagCategory.PERSONALITY: (
        "kind", "shy", "confident", "sarcastic", "mysterious", "playful", "stoic",
        "protective", "rebellious", "caring",
    ),
    TagCategory.PHYSICAL: ("athletic", "tall", "petite", "muscular", "curvy", "slender"),
    TagCategory.AGE: ("young-adult", "adult", "middle-aged", "elderly"),
    TagCategory.STYLE: (
        "fantasy", "sci-fi", "modern", "historical", "romance", "horror", "adventure",
        "slice-of-life", "mystery", "comedy",
    ),
    TagCategory.OTHER: ("villain", "hero", "mentor", "royalty", "detective", "artist", "pirate"),
}  # fmt: skip
CLASSIFY_MODELS: Final = ("openai/gpt-5-mini",)
CLASSIFY_TIMEOUT: Final = 60.0


@attrs.frozen
class ClassificationPrompt:
    """Classify a persona version for the public catalog."""

    template: ClassVar[str] = "publish_classify"
    data: PersonaData

    def variables(self) -> Mapping[str, object]:
        return {
            "persona_json": persona_json(self.data),
            "age_buckets": [b.value for b in AgeBucket],
            "curated_tags": {c.value: list(tags) for c, tags in CURATED_TAGS.items()},
        }


CLASSIFICATION_SCHEMA: Final = JsonSchema(
    name="publish_classification",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["headline", "nsfw_rating", "gender", "age_bucket", "tags"],
        "properties": {
            "headline": {"type": "string"},
            "nsfw_rating": {"type": "string", "enum": [r.value for r in NsfwRating]},
            "gender": {"type": "string", "enum": [g.value for g in Gender]},
            "age_bucket": {"type": "string", "enum": [b.value for b in AgeBucket]},
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "category"],
                    "properties": {
                        "name": {"type": "string"},
                        "category": {"type": "string", "enum": [c.value for c in TagCategory]},
                    },
                },
            },
        },
    },
)


def parse_classification(output: Mapping[str, object]) -> Classification:
    """The classifier's JSON as a `Classification` (before the rules).

    Raises:
        GenerationInvalidError: a field is missing or outside its values.
    """
    try:
        headline = clean_headline(str(output["headline"]))
        rating = NsfwRating(str(output["nsfw_rating"]))
        gender = Gender(str(output["gender"]))
        age = AgeBucket(str(output["age_bucket"]))
    except (KeyError, ValueError) as exc:
        raise GenerationInvalidError(f"unusable classification: {exc}") from exc
    if not headline:
        raise GenerationInvalidError("the classification has no headline")
    raw_tags = output.get("tags")
    pairs = [
        (str(t.get("name", "")), str(t.get("category", "other")))
        for t in (raw_tags if isinstance(raw_tags, list) else [])
        if isinstance(t, Mapping)
    ]
    return Classification(
        headline=headline,
        nsfw_rating=rating,
        gender=gender,
        age_bucket=age,
        tags=normalise_tags(pairs),
    )
