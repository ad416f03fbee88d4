"""Partial JSON: the object a model has written so far, while its JSON is still streaming.

`PartialObject.feed(text)` scans each new piece once (linear in the output overall) and
remembers the last point where the document could be closed: after a complete value, or
inside a string value (the partial text is kept). A snapshot closes the open containers at
that point and decodes it, so every snapshot is valid JSON made of what the model wrote.
A key whose value has not started yet is left out; a number or literal appears once it ends.
"""

from __future__ import annotations

import json
import re
from typing import Final

import attrs

_CLOSER: Final = {"{": "}", "[": "]"}
_WHITESPACE: Final = frozenset(" \t\r\n")
_HIGH_SURROGATE: Final = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")


def loads_object(text: str) -> dict[str, object]:
    """Decode a model's JSON object, tolerating prose or code fences around it.

    Raises:
        ValueError: no JSON object could be decoded.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        msg = "no JSON object in the output"
        raise ValueError(msg)
    value = json.loads(text[start : end + 1])
    if not isinstance(value, dict):
        msg = "the output is not a JSON object"
        raise ValueError(msg)  # noqa: TRY004 - a malformed output, not a caller's type error
    return value


@attrs.define
class PartialObject:
    """Incrementally decodes one streamed JSON object; text before its `{` is ignored."""

    _text: list[str] = attrs.field(factory=list)
    _length: int = 0
    _stack: list[str] = attrs.field(factory=list)
    _safe_length: int = 0
    _safe_closers: str = ""
    _in_string: bool = False
    _string_is_key: bool = False
    _escape: bool = False
    _unicode_left: int = 0
    _expect_key: bool = False
    _in_primitive: bool = False
    _done: bool = False
    _last: dict[str, object] | None = None

    def feed(self, piece: str) -> dict[str, object] | None:
        """Add `piece`; return the object so far if it changed since the last snapshot."""
        if self._done or not piece:
            return None
        base = self._length
        for offset, char in enumerate(piece):
            if self._step(char, base + offset):  # the object closed: ignore what follows
                piece = piece[: offset + 1]
                break
        self._text.append(piece)
        self._length += len(piece)
        snapshot = self._snapshot()
        if snapshot is None or snapshot == self._last:
            return None
        self._last = snapshot
        return snapshot

    @property
    def current(self) -> dict[str, object] | None:
        """The last snapshot returned by `feed`."""
        return self._last

    def _mark_safe(self, length: int) -> None:
        self._safe_length = length
        self._safe_closers = "".join(_CLOSER[c] for c in reversed(self._stack))

    def _step(self, char: str, index: int) -> bool:
        """Scan one character; True once the top-level object has closed."""
        if self._in_string:
            self._string_step(char, index)
            return False
        if not self._stack:
            if char == "{":  # the document starts; anything before it is ignored
                self._open(char, index)
            return False
        if self._in_primitive and (char in _WHITESPACE or char in ",}]"):
            self._in_primitive = False
            self._mark_safe(index)
        if char == '"':
            self._in_string = True
            self._string_is_key = self._stack[-1] == "{" and self._expect_key
            self._expect_key = False
        elif char in "{[":
            self._open(char, index)
        elif char in "}]":
            self._stack.pop()
            self._mark_safe(index + 1)
            self._done = not self._stack
        elif char == ",":
            self._expect_key = self._stack[-1] == "{"
        elif char not in _WHITESPACE and char != ":":
            self._in_primitive = True
        return self._done

    def _open(self, char: str, index: int) -> None:
        self._stack.append(char)
        self._expect_key = char == "{"
        self._mark_safe(index + 1)

    def _string_step(self, char: str, index: int) -> None:
        if self._unicode_left:
            self._unicode_left -= 1
        elif self._escape:
            self._escape = False
            if char == "u":
                self._unicode_left = 4
        elif char == "\\":
            self._escape = True
        elif char == '"':
            self._in_string = False
            if not self._string_is_key:
                self._mark_safe(index + 1)

    def _snapshot(self) -> dict[str, object] | None:
        if self._safe_length == 0 and not self._in_string:
            return None
        text = "".join(self._text)
        self._text = [text]
        if self._in_string and not self._string_is_key:
            end = len(text)
            if self._escape:
                end -= 1
            elif self._unicode_left:
                end -= 6 - self._unicode_left
            end -= _dangling_high_surrogate(text, end)
            closers = "".join(_CLOSER[c] for c in reversed(self._stack))
            candidate = text[:end] + '"' + closers
        else:
            candidate = text[: self._safe_length] + self._safe_closers
        start = candidate.find("{")
        try:
            value = json.loads(candidate[start:])
        except ValueError:  # a malformed document: the final decode reports it
            return None
        return value if isinstance(value, dict) else None


def _dangling_high_surrogate(text: str, end: int) -> int:
    r"""6 if `text[:end]` ends with a `\uD8xx` escape whose low half has not arrived, else 0."""
    start = end - 6
    if start < 0 or not _HIGH_SURROGATE.fullmatch(text, start, end):
        return 0
    backslashes = len(text[:start]) - len(text[:start].rstrip("\\"))
    return 6 if backslashes % 2 == 0 else 0
