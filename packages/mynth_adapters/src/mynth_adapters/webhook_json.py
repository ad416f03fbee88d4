"""The JSON envelope every provider webhook shares: `{"type": ..., "data": {...}}`."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from mynth_core.errors import MalformedWebhookError


@attrs.frozen
class Envelope:
    """A parsed delivery; `data` is read (and required) only for a type the caller handles."""

    type: str
    document: Mapping[str, Any]
    data: Mapping[str, Any] | None


def parse_envelope(body: bytes, handled: Collection[str]) -> Envelope:
    """The event type, the whole document and, for a `handled` type, its `data` object.

    Raises:
        MalformedWebhookError: not a JSON object, no `type`, or a handled type without `data`.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedWebhookError("the body is not JSON") from exc
    if not isinstance(document, dict):
        raise MalformedWebhookError("the body is not a JSON object")
    event_type = document.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedWebhookError("type: missing or not a string")
    if event_type not in handled:
        return Envelope(event_type, document, None)
    data = document.get("data")
    if not isinstance(data, dict):
        raise MalformedWebhookError("data: missing or not an object")
    return Envelope(event_type, document, data)
