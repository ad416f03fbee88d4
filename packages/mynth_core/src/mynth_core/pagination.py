"""Cursor pagination shared by every list: opaque cursors, pages, limits."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Generic, TypeVar

import attrs

from mynth_core.errors import ValidationError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@attrs.frozen
class PageRequest:
    """Which page to read: at most `limit` items after the opaque `cursor`."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    @classmethod
    def parse(
        cls,
        limit: int | None,
        cursor: str | None,
        *,
        default: int = DEFAULT_LIMIT,
        maximum: int = MAX_LIMIT,
    ) -> PageRequest:
        """Validate caller input.

        Raises:
            ValidationError: `limit` outside 1..maximum.
        """
        if limit is None:
            limit = default
        if not 1 <= limit <= maximum:
            raise ValidationError.single("limit", f"must be between 1 and {maximum}")
        return cls(limit=limit, cursor=cursor or None)


@attrs.frozen
class Page(Generic[T]):
    """One page of items and the cursor of the next page (None at the end)."""

    items: tuple[T, ...]
    next_cursor: str | None = None


def encode_cursor(*parts: str) -> str:
    """Pack sort-key parts into an opaque URL-safe cursor."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> tuple[str, ...]:
    """Unpack a cursor made by `encode_cursor`.

    Raises:
        ValidationError: the cursor was not made by us (field `cursor`).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        parts = None
    if (
        not isinstance(parts, list)
        or len(parts) != arity
        or not all(isinstance(p, str) for p in parts)
    ):
        raise ValidationError.single("cursor", "is not a valid cursor")
    return tuple(parts)
