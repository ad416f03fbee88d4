"""Clerk webhook payloads → identity events (PROVIDERS §3.6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mynth_adapters.clerk import parse_clerk_event
from mynth_core.errors import MalformedWebhookError
from mynth_core.identity_events import ClerkUserDeleted, ClerkUserUpserted, IgnoredClerkEvent
from mynth_core.ids import UserId

# PROVIDERS §3.6's example; JSON whitespace is free, so the lines are wrapped.
DOC_USER_UPDATED = b"""{"type": "user.updated", "object": "event", "timestamp": 1767225700123,
 "instance_id": "ins_2q7P0ABCdef",
 "data": {"id": "user_2q7Pz5tXo9Wd1LmN", "object": "user", "first_name": "Ada",
          "last_name": "Varga", "username": null, "image_url": "https://img.clerk.com/abc",
          "primary_email_address_id": "idn_2q7Q0aa",
          "email_addresses": [{"id": "idn_2q7Q0aa", "object": "email_address",
                               "email_address": "ada@example.com",
                               "verification": {"status": "verified",
                                                "strategy": "email_code"}}],
          "public_metadata": {}, "external_id": null, "created_at": 1767225600000,
          "updated_at": 1767225700000}}"""
USER = "user_2q7Pz5tXo9Wd1LmN"


def body(event_type: str = "user.created", **data: object) -> bytes:
    fields = {"id": USER, "object": "user", "updated_at": 1767225700123, **data}
    return json.dumps({"type": event_type, "object": "event", "data": fields}).encode()


def test_the_documented_user_updated_becomes_an_upsert() -> None:
    assert parse_clerk_event(DOC_USER_UPDATED) == ClerkUserUpserted(
        user_id=UserId(USER),
        first_name="Ada",
        last_name="Varga",
        username=None,
        image_url="https://img.clerk.com/abc",
        updated_at=datetime(2026, 1, 1, 0, 1, 40, tzinfo=UTC),
    )


def test_user_created_keeps_the_milliseconds_of_updated_at() -> None:
    event = parse_clerk_event(body(username="ada"))

    assert isinstance(event, ClerkUserUpserted)
    assert event.updated_at == datetime(2026, 1, 1, 0, 1, 40, 123000, tzinfo=UTC)
    assert (event.username, event.display_name) == ("ada", "ada")


def test_blank_names_read_as_absent() -> None:
    event = parse_clerk_event(body(first_name="  ", last_name="", username=" ada "))

    assert isinstance(event, ClerkUserUpserted)
    assert (event.first_name, event.last_name, event.username) == (None, None, "ada")


def test_a_user_without_updated_at_falls_back_to_created_at() -> None:
    event = parse_clerk_event(body(updated_at=None, created_at=1767225600000))

    assert isinstance(event, ClerkUserUpserted)
    assert event.updated_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_user_deleted_carries_only_the_id() -> None:
    payload = {"type": "user.deleted", "data": {"object": "user", "id": USER, "deleted": True}}

    assert parse_clerk_event(json.dumps(payload).encode()) == ClerkUserDeleted(UserId(USER))


@pytest.mark.parametrize("event_type", ["session.created", "email.created", "user.banned"])
def test_other_event_types_are_ignored(event_type: str) -> None:
    payload = {"type": event_type, "data": {"whatever": 1}}

    assert parse_clerk_event(json.dumps(payload).encode()) == IgnoredClerkEvent(event_type)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"data": {}}', "type"),
        (b'{"type": "user.created"}', "data"),
        (body(id=None), "data.id"),
        (body(id=7), "data.id"),
        (body(username=["ada"]), "data.username"),
        (body(updated_at="yesterday"), "data.updated_at"),
        (body(updated_at=True), "data.updated_at"),
        (body(updated_at=None), "data.updated_at: missing"),
        (body(updated_at=10**20), "data.updated_at"),
    ],
)
def test_a_malformed_body_is_rejected_naming_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedWebhookError, match=message):
        parse_clerk_event(raw)
