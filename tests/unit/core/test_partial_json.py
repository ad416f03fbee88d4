"""PartialObject: every snapshot of a streamed JSON object is made of what was written."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mynth_core.generation.partial import PartialObject, loads_object

TEXT = st.text(max_size=40)
OBJECTS = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.one_of(
        TEXT,
        st.none(),
        st.integers(),
        st.lists(st.fixed_dictionaries({"key": TEXT, "value": TEXT}), max_size=3),
    ),
    max_size=6,
)


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def is_prefix_of(partial: object, final: object) -> bool:
    """Whether `partial` could be an unfinished rendering of `final`."""
    if isinstance(partial, str):
        return isinstance(final, str) and final.startswith(partial)
    if isinstance(partial, dict):
        return isinstance(final, dict) and all(
            k in final and is_prefix_of(v, final[k]) for k, v in partial.items()
        )
    if isinstance(partial, list):
        return (
            isinstance(final, list)
            and len(partial) <= len(final)
            and all(is_prefix_of(p, f) for p, f in zip(partial, final, strict=False))
        )
    return partial == final


@given(OBJECTS, st.lists(st.integers(min_value=0), max_size=30), st.booleans())
def test_every_snapshot_is_a_prefix_of_the_object_and_the_last_is_the_object(
    document, cuts, ascii_only
) -> None:
    text = "Here you go: " + json.dumps(document, ensure_ascii=ascii_only, indent=1)
    parser = PartialObject()
    snapshots = [s for piece in pieces_of(text, cuts) if (s := parser.feed(piece)) is not None]

    assert all(is_prefix_of(s, document) for s in snapshots)
    assert parser.current == document or (document == {} and parser.current in (None, {}))


def test_a_string_value_in_progress_shows_its_partial_text() -> None:
    parser = PartialObject()

    assert parser.feed('{"name": "Aurora", "summary": "A keeper of li') == {
        "name": "Aurora",
        "summary": "A keeper of li",
    }


def test_a_key_whose_value_has_not_started_is_left_out() -> None:
    parser = PartialObject()
    parser.feed('{"name": "Aurora"')

    assert parser.feed(', "age": ') is None
    assert parser.current == {"name": "Aurora"}


def test_an_escape_split_across_pieces_never_yields_broken_text() -> None:
    parser = PartialObject()
    seen = [parser.feed(p) for p in ['{"a": "x\\', "n", "y \\u00", "e9", '"}']]

    assert [s for s in seen if s is not None] == [
        {"a": "x"},
        {"a": "x\n"},
        {"a": "x\ny "},
        {"a": "x\ny é"},
    ]


def test_text_after_the_object_is_ignored() -> None:
    parser = PartialObject()
    parser.feed('{"a": "b"} and then {"c": "d"}')

    assert parser.current == {"a": "b"}


def test_loads_object_tolerates_code_fences_around_the_object() -> None:
    assert loads_object('```json\n{"a": 1}\n```') == {"a": 1}


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2]", '{"a": '])
def test_loads_object_rejects_anything_but_an_object(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        loads_object(text)
