"""PersonaData, the content of a version, with every field rule of PRODUCT.md §4.1."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

import attrs

from mynth_core.errors import FieldError, ValidationError

REQUIRED_FIELDS: Final = (
    "name",
    "age",
    "gender",
    "appearance",
    "personality",
    "background",
    "summary",
)
OPTIONAL_FIELDS: Final = ("occupation",)
TEXT_FIELDS: Final = REQUIRED_FIELDS + OPTIONAL_FIELDS
FIELD_LIMITS: Final[Mapping[str, int]] = {
    "name": 100,
    "age": 8000,
    "gender": 8000,
    "appearance": 8000,
    "personality": 8000,
    "background": 8000,
    "summary": 600,
    "occupation": 8000,
}
MAX_EXTENSIONS: Final = 50
MAX_EXTENSION_VALUE: Final = 8000
EXTENSION_KEY: Final = re.compile(r"[a-z0-9_]{1,64}")
MAX_DATA_CHARS: Final = 100_000
TITLE_LIMIT: Final = 100
NUL_MESSAGE: Final = "must not contain NUL characters"
NOTE_LIMIT: Final = 500


@attrs.frozen(kw_only=True)
class PersonaData:
    """One immutable snapshot of a persona's content.

    Build it with `PersonaData.parse` (validates caller input) or `apply` (validates a patch);
    the constructor itself trusts its arguments.
    """

    name: str
    age: str
    gender: str
    appearance: str
    personality: str
    background: str
    summary: str
    occupation: str | None = None
    extension_items: tuple[tuple[str, str], ...] = ()

    @property
    def extensions(self) -> Mapping[str, str]:
        """The custom properties, read-only."""
        return dict(self.extension_items)

    @classmethod
    def parse(
        cls,
        fields: Mapping[str, str | None],
        extensions: Mapping[str, str] | None = None,
        *,
        path: str = "data",
    ) -> PersonaData:
        """Validate caller input into persona data.

        Raises:
            ValidationError: every broken rule, each addressed as `<path>.<field>`.
        """
        errors = list(_unknown_fields(fields, path))
        values = {name: fields.get(name) for name in TEXT_FIELDS}
        data = _build(values, dict(extensions or {}), path, errors)
        if errors:
            raise ValidationError(tuple(errors))
        return data

    def apply(self, patch: PersonaPatch, *, path: str = "data") -> PersonaData:
        """Return this data with `patch` applied (fields replace, extensions merge).

        Raises:
            ValidationError: the result breaks a rule (e.g. a required field set to null).
        """
        errors = list(_unknown_fields(dict(patch.fields), path))
        values: dict[str, str | None] = {name: getattr(self, name) for name in TEXT_FIELDS}
        values.update((k, v) for k, v in patch.fields if k in values)
        extensions = dict(self.extension_items)
        for key, value in patch.extension_items:
            if value is None:
                extensions.pop(key, None)
            else:
                extensions[key] = value
        data = _build(values, extensions, path, errors)
        if errors:
            raise ValidationError(tuple(errors))
        return data

    def total_chars(self) -> int:
        texts = [getattr(self, name) or "" for name in TEXT_FIELDS]
        texts += [part for item in self.extension_items for part in item]
        return sum(len(t) for t in texts)


@attrs.frozen(kw_only=True)
class PersonaPatch:
    """A partial edit: given fields replace, extensions merge; None removes."""

    fields: tuple[tuple[str, str | None], ...] = ()
    extension_items: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def of(
        cls,
        fields: Mapping[str, str | None] | None = None,
        extensions: Mapping[str, str | None] | None = None,
    ) -> PersonaPatch:
        return cls(
            fields=tuple(sorted((fields or {}).items())),
            extension_items=tuple(sorted((extensions or {}).items())),
        )

    @property
    def is_empty(self) -> bool:
        return not self.fields and not self.extension_items


def _unknown_fields(fields: Mapping[str, object], path: str) -> Iterator[FieldError]:
    for name in fields:
        if name not in TEXT_FIELDS:
            yield FieldError(f"{path}.{name}", "is not a persona field")


def _build(
    values: Mapping[str, str | None],
    extensions: Mapping[str, str],
    path: str,
    errors: list[FieldError],
) -> PersonaData:
    for name in TEXT_FIELDS:
        errors.extend(_check_text(name, values.get(name), path))
    errors.extend(_check_extensions(extensions, path))
    data = PersonaData(
        **{name: values.get(name) or "" for name in REQUIRED_FIELDS},
        occupation=values.get("occupation"),
        extension_items=tuple(sorted(extensions.items())),
    )
    if not errors and data.total_chars() > MAX_DATA_CHARS:
        errors.append(FieldError(path, f"is longer than {MAX_DATA_CHARS} characters in total"))
    return data


def _check_text(name: str, value: str | None, path: str) -> Iterator[FieldError]:
    field = f"{path}.{name}"
    if value is None:
        if name in REQUIRED_FIELDS:
            yield FieldError(field, "is required")
        return
    limit = FIELD_LIMITS[name]
    if "\x00" in value:
        yield FieldError(field, NUL_MESSAGE)
    elif name in REQUIRED_FIELDS and not value.strip():
        yield FieldError(field, "must not be empty")
    elif len(value) > limit:
        yield FieldError(field, f"is longer than {limit} characters")


def _check_extensions(extensions: Mapping[str, str], path: str) -> Iterator[FieldError]:
    if len(extensions) > MAX_EXTENSIONS:
        yield FieldError(f"{path}.extensions", f"has more than {MAX_EXTENSIONS} entries")
    for key, value in extensions.items():
        field = f"{path}.extensions.{key}"
        if not EXTENSION_KEY.fullmatch(key):
            yield FieldError(field, "key must be 1-64 characters of a-z, 0-9 and _")
        elif "\x00" in value:
            yield FieldError(field, NUL_MESSAGE)
        elif len(value) > MAX_EXTENSION_VALUE:
            yield FieldError(field, f"is longer than {MAX_EXTENSION_VALUE} characters")


def check_text(field: str, value: str | None, limit: int) -> None:
    """Check a free-text value (title, note): not blank, no NUL, at most `limit` characters.

    Raises:
        ValidationError: naming `field`.
    """
    if value is None:
        return
    if not value.strip():
        raise ValidationError.single(field, "must not be empty")
    if "\x00" in value:
        raise ValidationError.single(field, NUL_MESSAGE)
    if len(value) > limit:
        raise ValidationError.single(field, f"is longer than {limit} characters")
