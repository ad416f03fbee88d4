"""Clerk webhook payloads (PROVIDERS §3.6) → the core's identity events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from mynth_adapters.webhook_json import parse_envelope
from mynth_core.errors import MalformedWebhookError
from mynth_core.identity_events import (
    ClerkEvent,
    ClerkUserDeleted,
    ClerkUserUpserted,
    IgnoredClerkEvent,
)
from mynth_core.ids import UserId

USER_CREATED: Final = "user.created"
USER_UPDATED: Final = "user.updated"
USER_DELETED: Final = "user.deleted"


def parse_clerk_event(body: bytes) -> ClerkEvent:
    """The identity event in a verified Clerk (Svix) webhook body.

    `user.created`/`user.updated` become `ClerkUserUpserted` (ordered by `data.updated_at`,
    else `data.created_at`, else the envelope's `timestamp`, all in epoch milliseconds);
    `user.deleted` becomes `ClerkUserDeleted`; any other well-formed event is ignored.

    Raises:
        MalformedWebhookError: the body is not a JSON object, has no `type`, or a user event
            lacks `data.id`, a time, or carries a field of the wrong type (named by path).
    """
    envelope = parse_envelope(body, {USER_CREATED, USER_UPDATED, USER_DELETED})
    event_type, document, data = envelope.type, envelope.document, envelope.data
    if data is None:
        return IgnoredClerkEvent(event_type)
    user_id = _text(data, "id")
    if user_id is None:
        raise MalformedWebhookError("data.id: missing")
    if event_type == USER_DELETED:
        return ClerkUserDeleted(UserId(user_id))
    return ClerkUserUpserted(
        user_id=UserId(user_id),
        username=_text(data, "username"),
        first_name=_text(data, "first_name"),
        last_name=_text(data, "last_name"),
        image_url=_text(data, "image_url"),
        updated_at=_updated_at(document, data),
    )


def _updated_at(document: Mapping[str, Any], data: Mapping[str, Any]) -> datetime:
    for value in (
        _millis(data, "data.updated_at"),
        _millis(data, "data.created_at"),
        _millis(document, "timestamp"),
    ):
        if value is not None:
            return value
    raise MalformedWebhookError("data.updated_at: missing")


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedWebhookError(f"data.{name}: not a string")
    return value.strip() or None


def _millis(data: Mapping[str, Any], path: str) -> datetime | None:
    value = data.get(path.rpartition(".")[2])
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedWebhookError(f"{path}: not epoch milliseconds")
    try:
        # Whole seconds plus exact milliseconds: a float division could round the millisecond.
        return datetime.fromtimestamp(value // 1000, tz=UTC) + timedelta(milliseconds=value % 1000)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedWebhookError(f"{path}: out of range") from exc
