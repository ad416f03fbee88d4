"""Field rules of persona data (PRODUCT.md §4.1): limits, required fields, extensions, patches."""

from __future__ import annotations

import pytest
from hypothesis import given

from mynth_core.errors import FieldError, ValidationError
from mynth_core.personas.fields import PersonaData, PersonaPatch
from mynth_core.testing import persona_data
from strategies import patches
from strategies import persona_data as any_persona_data


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_every_broken_rule_is_reported_with_its_field_path() -> None:
    fields: dict[str, str | None] = {
        "name": "x" * 101,
        "age": "30",
        "gender": " ",
        "appearance": "a",
        "personality": "p",
        "background": "b",
        "summary": "s" * 601,
        "mood": "odd",
    }
    with pytest.raises(ValidationError) as exc:
        PersonaData.parse(fields, {"Bad-Key": "v", "ok": "x" * 8001})
    assert errors_of(exc) == {
        "data.name",
        "data.gender",
        "data.summary",
        "data.mood",
        "data.extensions.Bad-Key",
        "data.extensions.ok",
    }


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        PersonaData.parse({"name": "N"})
    assert "data.background" in errors_of(exc)
    assert FieldError("data.age", "is required") in exc.value.errors


def test_more_than_fifty_extensions_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        persona_data().apply(PersonaPatch.of(extensions={f"k{i}": "v" for i in range(51)}))
    assert errors_of(exc) == {"data.extensions"}


def test_the_whole_data_object_is_capped_at_100000_characters() -> None:
    big = {f"k{i}": "v" * 8000 for i in range(13)}
    with pytest.raises(ValidationError) as exc:
        persona_data().apply(PersonaPatch.of(extensions=big))
    assert errors_of(exc) == {"data"}


def test_input_at_the_limits_is_accepted_unchanged() -> None:
    data = persona_data(name="n" * 100, summary="s" * 600)
    assert len(data.name) == 100
    assert len(data.summary) == 600


def test_a_patch_replaces_fields_merges_extensions_and_null_removes() -> None:
    base = persona_data(occupation="sailor").apply(
        PersonaPatch.of(extensions={"fears": "fog", "goals": "home"})
    )
    patched = base.apply(
        PersonaPatch.of({"age": "40", "occupation": None}, {"fears": None, "hobbies": "knots"})
    )
    assert patched.age == "40"
    assert patched.occupation is None
    assert patched.extensions == {"goals": "home", "hobbies": "knots"}
    assert patched.name == base.name


def test_a_patch_cannot_remove_a_required_field() -> None:
    with pytest.raises(ValidationError) as exc:
        persona_data().apply(PersonaPatch.of({"name": None}))
    assert exc.value.errors == (FieldError("data.name", "is required"),)


@given(any_persona_data(), patches())
def test_applying_a_patch_keeps_every_unpatched_field(
    data: PersonaData, patch: PersonaPatch
) -> None:
    patched = data.apply(patch)
    given_fields = dict(patch.fields)
    for name in ("name", "age", "gender", "appearance", "personality", "background", "summary"):
        assert getattr(patched, name) == given_fields.get(name, getattr(data, name))
    removed = {k for k, v in patch.extension_items if v is None}
    added = {k: v for k, v in patch.extension_items if v is not None}
    assert patched.extensions == {
        **{k: v for k, v in data.extensions.items() if k not in removed},
        **added,
    }


@given(any_persona_data())
def test_an_empty_patch_changes_nothing(data: PersonaData) -> None:
    assert data.apply(PersonaPatch()) == data


def test_nul_characters_are_refused_because_no_database_can_store_them() -> None:
    with pytest.raises(ValidationError) as exc:
        PersonaData.parse({**_valid(), "name": "A\x00B"}, {"k": "v\x00"})
    assert errors_of(exc) == {"data.name", "data.extensions.k"}


def _valid() -> dict[str, str | None]:
    data = persona_data()
    return {
        name: getattr(data, name)
        for name in ("name", "age", "gender", "appearance", "personality", "background", "summary")
    }
