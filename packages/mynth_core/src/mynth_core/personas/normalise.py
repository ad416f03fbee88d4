"""Generated output → persona data: normalised instead of rejected (PRODUCT.md §4.1).

Text is trimmed and clipped to its field limit, numbers become text, extension keys become
snake_case, non-string extension values and extras beyond 50 are dropped. A generation
missing a required field is a failed generation (`GenerationInvalidError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import attrs

from mynth_core.errors import GenerationInvalidError
from mynth_core.personas.fields import (
    FIELD_LIMITS,
    MAX_DATA_CHARS,
    MAX_EXTENSION_VALUE,
    MAX_EXTENSIONS,
    NOTE_LIMIT,
    REQUIRED_FIELDS,
    TEXT_FIELDS,
    TITLE_LIMIT,
    PersonaData,
)

_NOT_SNAKE: Final = re.compile(r"[^a-z0-9]+")
_KEY_LIMIT: Final = 64


def clean_text(value: object, limit: int) -> str | None:
    """A generated value as trimmed text within `limit`, or None when there is none.

    Numbers (not booleans) become text; NUL characters are removed (no store keeps them).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:limit].rstrip() or None


def snake_key(raw: str) -> str | None:
    """An extension key in snake_case: lower-case, runs of other characters → `_`, ≤ 64."""
    key = _NOT_SNAKE.sub("_", raw.lower()).strip("_")[:_KEY_LIMIT].rstrip("_")
    return key or None


def clean_extensions(value: object) -> dict[str, str]:
    """Generated extensions, as a `{key: value}` object or a list of `{key, value}` pairs."""
    pairs: list[tuple[object, object]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [
            (item.get("key"), item.get("value")) for item in value if isinstance(item, Mapping)
        ]
    cleaned: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        if not isinstance(raw_key, str) or not isinstance(raw_value, str):
            continue
        key, text = snake_key(raw_key), clean_text(raw_value, MAX_EXTENSION_VALUE)
        if key is not None and text is not None:
            cleaned[key] = text
    return cleaned


@attrs.frozen(kw_only=True)
class GeneratedPersona:
    """A whole generated persona with the model's title and note to the user."""

    data: PersonaData
    title: str | None
    ai_note: str | None


def persona_from_output(output: Mapping[str, object]) -> GeneratedPersona:
    """Normalise a whole generated persona (§4.5's output contract).

    Raises:
        GenerationInvalidError: a required field is missing or empty.
    """
    values = {name: clean_text(output.get(name), FIELD_LIMITS[name]) for name in TEXT_FIELDS}
    missing = [name for name in REQUIRED_FIELDS if values[name] is None]
    if missing:
        raise GenerationInvalidError(f"the generated persona lacks {', '.join(missing)}")
    return GeneratedPersona(
        data=fit(
            PersonaData(
                **{name: values[name] or "" for name in REQUIRED_FIELDS},
                occupation=values["occupation"],
                extension_items=_first(clean_extensions(output.get("extensions"))),
            )
        ),
        title=clean_text(output.get("title"), TITLE_LIMIT),
        ai_note=clean_text(output.get("note_for_user"), NOTE_LIMIT),
    )


def merge_changes(current: PersonaData, output: Mapping[str, object]) -> PersonaData:
    """Apply an enhance answer (§4.7): each non-empty field replaces, extensions merge."""
    values: dict[str, str | None] = {name: getattr(current, name) for name in TEXT_FIELDS}
    for name in TEXT_FIELDS:
        if (text := clean_text(output.get(name), FIELD_LIMITS[name])) is not None:
            values[name] = text
    extensions = dict(current.extension_items)
    extensions.update(clean_extensions(output.get("extensions")))
    return fit(
        PersonaData(
            **{name: values[name] or "" for name in REQUIRED_FIELDS},
            occupation=values["occupation"],
            extension_items=_first(extensions, keep=current.extensions),
        )
    )


def fit(data: PersonaData) -> PersonaData:
    """Drop trailing extensions until the whole data fits `MAX_DATA_CHARS`."""
    items = list(data.extension_items)
    while items and data.total_chars() > MAX_DATA_CHARS:
        items.pop()
        data = attrs.evolve(data, extension_items=tuple(items))
    return data


def _first(
    extensions: Mapping[str, str], *, keep: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """At most `MAX_EXTENSIONS` entries, sorted by key; the keys in `keep` are kept first."""
    kept = [k for k in extensions if keep is not None and k in keep]
    added = [k for k in extensions if keep is None or k not in keep]
    chosen = (kept + added)[:MAX_EXTENSIONS]
    return tuple(sorted((k, extensions[k]) for k in chosen))
