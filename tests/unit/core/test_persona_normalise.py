"""Generated output is normalised instead of rejected (PRODUCT.md §4.1)."""

from __future__ import annotations

import pytest

from mynth_core.errors import GenerationInvalidError
from mynth_core.personas.fields import MAX_DATA_CHARS, MAX_EXTENSIONS, PersonaPatch
from mynth_core.personas.normalise import (
    clean_extensions,
    merge_changes,
    persona_from_output,
    snake_key,
)
from mynth_core.testing import persona_data

WHOLE = {
    "title": "  The Keeper  ",
    "note_for_user": "Built around the storm.",
    "name": "Aurora Vale",
    "age": 34,
    "gender": "female",
    "summary": "A keeper.",
    "appearance": "Tall.",
    "personality": "Dry.",
    "background": "An island.",
    "occupation": None,
    "extensions": [{"key": "Top 5 Movies!", "value": "Jaws"}],
}


def test_a_whole_persona_is_trimmed_and_its_age_becomes_text() -> None:
    made = persona_from_output(WHOLE)

    assert made.title == "The Keeper"
    assert made.ai_note == "Built around the storm."
    assert made.data.age == "34"
    assert made.data.occupation is None
    assert made.data.extensions == {"top_5_movies": "Jaws"}


def test_overlong_text_is_clipped_to_its_field_limit() -> None:
    made = persona_from_output(WHOLE | {"name": "N" * 500, "summary": "s" * 9000})

    assert made.data.name == "N" * 100
    assert made.data.summary == "s" * 600


@pytest.mark.parametrize("field", ["name", "appearance", "summary"])
@pytest.mark.parametrize("value", [None, "   ", True, ["a list"]])
def test_a_missing_or_empty_required_field_fails_the_generation(field, value) -> None:
    with pytest.raises(GenerationInvalidError, match=field):
        persona_from_output(WHOLE | {field: value})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Top 5 Movies!", "top_5_movies"),
        ("  --Daily  Routine--", "daily_routine"),
        ("k" * 80, "k" * 64),
        ("!!!", None),
        ("Émile's fears", "mile_s_fears"),
    ],
)
def test_extension_keys_become_snake_case(raw: str, key: str | None) -> None:
    assert snake_key(raw) == key


def test_non_string_extension_values_and_extras_beyond_fifty_are_dropped() -> None:
    pairs = [{"key": f"k{i:02d}", "value": "v"} for i in range(60)]
    pairs += [{"key": "n", "value": 7}, {"key": 3, "value": "x"}, "junk"]  # type: ignore[list-item]

    cleaned = clean_extensions(pairs)

    assert "n" not in cleaned
    made = persona_from_output(WHOLE | {"extensions": pairs})
    assert len(made.data.extension_items) == MAX_EXTENSIONS


def test_nul_characters_are_removed_from_generated_text() -> None:
    assert persona_from_output(WHOLE | {"name": "Au\x00rora"}).data.name == "Aurora"


def test_a_persona_too_long_in_total_loses_extensions_until_it_fits() -> None:
    pairs = [{"key": f"k{i:02d}", "value": "v" * 8000} for i in range(20)]

    made = persona_from_output(WHOLE | {"extensions": pairs})

    assert made.data.total_chars() <= MAX_DATA_CHARS
    assert 0 < len(made.data.extension_items) < 20


def test_changes_replace_given_fields_and_merge_extensions() -> None:
    current = persona_data().apply(
        PersonaPatch.of(extensions={"fears": "the dark", "hobbies": "knots"})
    )

    merged = merge_changes(
        current,
        {
            "background": "A retired pilot.",
            "name": None,
            "personality": "  ",
            "extensions": [
                {"key": "fears", "value": "open water"},
                {"key": "Callsign", "value": "Gull"},
            ],
        },
    )

    assert merged.background == "A retired pilot."
    assert merged.name == current.name
    assert merged.personality == current.personality
    assert merged.extensions == {"fears": "open water", "hobbies": "knots", "callsign": "Gull"}
