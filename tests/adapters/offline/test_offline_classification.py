"""The offline classifier: a deterministic, schema-shaped publish classification of the persona."""

from __future__ import annotations

import json

import pytest

from mynth_adapters.offline import OfflineChatModel
from mynth_adapters.offline.classify import age_bucket
from mynth_core.generation.ports import ChatRequest
from mynth_core.publishing.model import AgeBucket, Gender, NsfwRating, TagCategory
from mynth_core.publishing.prompts import (
    CLASSIFICATION_SCHEMA,
    CURATED_TAGS,
    ClassificationPrompt,
    parse_classification,
)
from mynth_core.testing import persona_data

CURATED = {tag: category.value for category, tags in CURATED_TAGS.items() for tag in tags}


def classify_request(renderer, **fields: str) -> ChatRequest:
    spec = ClassificationPrompt(persona_data(**fields))
    return ChatRequest(messages=renderer.render(spec), models=("m",), schema=CLASSIFICATION_SCHEMA)


async def classify(model, renderer, **fields: str) -> dict:
    return json.loads((await model.complete(classify_request(renderer, **fields))).text)


async def test_the_answer_fits_the_schema_and_parses(model, renderer, conforms) -> None:
    answer = await classify(model, renderer)

    assert conforms(answer, CLASSIFICATION_SCHEMA.schema) == []
    parsed = parse_classification(answer)
    assert (parsed.nsfw_rating, parsed.gender, parsed.age_bucket) == (
        NsfwRating.SFW,
        Gender.FEMALE,
        AgeBucket.ADULT_25,
    )


async def test_the_headline_is_the_name_and_the_summary_within_80_characters(
    model, renderer
) -> None:
    short = await classify(model, renderer)
    long = await classify(model, renderer, summary="A keeper of lights " * 30)

    assert short["headline"] == (
        "Aurora Vale: A lighthouse keeper who hears ships that sank a century ago."
    )
    assert len(long["headline"]) <= 80
    assert long["headline"].startswith("Aurora Vale: A keeper of lights")
    assert long["headline"].endswith("…")


@pytest.mark.parametrize(
    ("gender", "expected"),
    [("female", "female"), ("Male", "male"), ("a woman", "female"), ("non-binary", "other")],
)
async def test_the_gender_comes_from_the_gender_text(model, renderer, gender, expected) -> None:
    assert (await classify(model, renderer, gender=gender))["gender"] == expected


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        ("34", "25-34"),
        ("16 years old", "13-17"),
        ("4", "0-5"),
        ("18", "18-24"),
        ("64", "55-64"),
        ("1,200", "65-plus"),
        ("late twenties", "unknown"),
        ("unknown", "unknown"),
    ],
)
def test_the_age_bucket_comes_from_a_number_in_the_age(age, bucket) -> None:
    assert age_bucket(age).value == bucket


async def test_two_to_five_curated_tags_come_from_words_in_the_data(model, renderer) -> None:
    answer = await classify(
        model,
        renderer,
        age="15",
        appearance="Red hair, freckles and round glasses.",
        personality="Shy but kind.",
        summary="A wizard's apprentice who hides a dragon egg.",
    )

    tags = [(t["name"], t["category"]) for t in answer["tags"]]
    assert tags == [
        ("redhead", "appearance"),
        ("kind", "personality"),
        ("fantasy", "style"),
        ("freckles", "appearance"),
        ("shy", "personality"),
    ]
    assert answer["age_bucket"] == "13-17"


async def test_the_age_tag_joins_the_tags_of_an_adult(model, renderer) -> None:
    answer = await classify(model, renderer)

    tags = {t["name"]: t["category"] for t in answer["tags"]}
    assert 2 <= len(tags) <= 5
    assert tags["adult"] == TagCategory.AGE.value
    assert all(CURATED[name] == category for name, category in tags.items())


async def test_data_without_tag_words_still_gets_two_tags(model, renderer) -> None:
    plain = dict.fromkeys(("appearance", "personality", "background", "summary"), "Plain.")

    answer = await classify(model, renderer, age="unknown", **plain)

    assert [t["name"] for t in answer["tags"]] == ["mysterious", "modern"]


async def test_the_same_persona_always_gets_the_same_classification(model, renderer) -> None:
    first = await model.complete(classify_request(renderer))
    again = await OfflineChatModel().complete(classify_request(renderer))

    assert first.text == again.text
