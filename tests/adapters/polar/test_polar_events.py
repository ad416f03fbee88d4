"""Polar webhook payloads → billing events (PROVIDERS §4.5)."""

from __future__ import annotations

import json

import pytest

from mynth_adapters.auth.webhooks import StandardWebhookVerifier
from mynth_adapters.polar import parse_polar_event
from mynth_core.billing import IgnoredBillingEvent, Order, OrderPaid, OrderRefunded
from mynth_core.errors import MalformedWebhookError
from mynth_core.ids import UserId
from providers.polar import (
    PRODUCT_500,
    completed_checkout_events,
    event,
    order_data,
    order_paid,
    order_refunded,
)
from providers.webhooks import T0, WebhookSender

# PROVIDERS §4.5's examples; JSON whitespace is free, so the lines are wrapped.
DOC_ORDER_PAID = b"""{"type": "order.paid", "timestamp": "2026-01-01T00:05:00.123456Z",
 "data": {"id": "e1d2c3b4-a596-4877-8899-aabbccddeeff", "status": "paid", "paid": true,
          "billing_reason": "purchase", "checkout_id": "3c8e1f0a-5b2d-4c7e-9a1f-6d0b2e4c8a13",
          "customer_id": "c0ffee00-1234-4abc-8def-001122334455",
          "customer": {"id": "c0ffee00-1234-4abc-8def-001122334455",
                       "external_id": "user_2q7Pz5tXo9Wd1LmN", "email": "ada@example.com"},
          "product_id": "9b2f0c1e-7a6d-4e3b-8c5a-2d1e0f9a8b7c",
          "product": {"id": "9b2f0c1e-7a6d-4e3b-8c5a-2d1e0f9a8b7c"},
          "metadata": {"user_id": "user_2q7Pz5tXo9Wd1LmN", "pack_id": "pack_500"},
          "subtotal_amount": 699, "net_amount": 699, "tax_amount": 0, "total_amount": 699,
          "refunded_amount": 0, "currency": "usd", "created_at": "2026-01-01T00:04:58Z"}}"""
DOC_ORDER_REFUNDED = b"""{"type": "order.refunded", "timestamp": "2026-01-03T10:00:00Z",
 "data": {"id": "e1d2c3b4-a596-4877-8899-aabbccddeeff", "status": "partially_refunded",
          "paid": true, "customer": {"external_id": "user_2q7Pz5tXo9Wd1LmN"},
          "product_id": "9b2f0c1e-7a6d-4e3b-8c5a-2d1e0f9a8b7c",
          "metadata": {"user_id": "user_2q7Pz5tXo9Wd1LmN", "pack_id": "pack_500"},
          "total_amount": 699, "refunded_amount": 350, "currency": "usd"}}"""


def test_the_documented_order_paid_becomes_an_order_paid_event():
    assert parse_polar_event(DOC_ORDER_PAID) == OrderPaid(
        Order(
            id="e1d2c3b4-a596-4877-8899-aabbccddeeff",
            product_id=PRODUCT_500,
            customer_external_id="user_2q7Pz5tXo9Wd1LmN",
            user_id="user_2q7Pz5tXo9Wd1LmN",
            pack_id="pack_500",
            checkout_id="3c8e1f0a-5b2d-4c7e-9a1f-6d0b2e4c8a13",
            total_amount=699,
            refunded_amount=0,
            currency="usd",
        )
    )


def test_the_documented_partial_refund_carries_the_cumulative_refunded_amount():
    parsed = parse_polar_event(DOC_ORDER_REFUNDED)

    assert isinstance(parsed, OrderRefunded)
    assert (parsed.order.total_amount, parsed.order.refunded_amount) == (699, 350)
    assert parsed.order.checkout_id is None


def test_a_null_product_id_falls_back_to_the_embedded_product():
    data = order_data() | {"product_id": None, "product": {"id": "prod_embedded"}}

    parsed = parse_polar_event(event("order.paid", data))

    assert isinstance(parsed, OrderPaid)
    assert parsed.order.product_id == "prod_embedded"


def test_absent_optional_fields_read_as_none():
    data = {"id": "ord_1", "total_amount": 699}

    parsed = parse_polar_event(event("order.paid", data))

    assert isinstance(parsed, OrderPaid)
    assert parsed.order == Order(
        id="ord_1",
        product_id=None,
        customer_external_id=None,
        user_id=None,
        pack_id=None,
        checkout_id=None,
        total_amount=699,
        refunded_amount=0,
        currency=None,
    )


def test_metadata_values_that_are_not_strings_are_not_ours():
    data = order_data() | {"metadata": {"user_id": 42, "pack_id": True}}

    order = _order(event("order.paid", data))

    assert (order.user_id, order.pack_id) == (None, None)


@pytest.mark.parametrize(
    "event_type",
    ["order.created", "order.updated", "checkout.updated", "refund.created", "subscription.active"],
)
def test_other_event_types_are_ignored_without_looking_at_their_data(event_type):
    body = json.dumps({"type": event_type, "data": "whatever"}).encode()

    assert parse_polar_event(body) == IgnoredBillingEvent(event_type)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b'{"type": "order.paid", "data": {', "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"data": {}}', "type"),
        (b'{"type": 7}', "type"),
        (b'{"type": "order.paid"}', "data"),
        (b'{"type": "order.paid", "data": []}', "data"),
        (b'{"type": "order.paid", "data": {"total_amount": 1}}', "data.id"),
        (b'{"type": "order.paid", "data": {"id": 5, "total_amount": 1}}', "data.id"),
        (b'{"type": "order.paid", "data": {"id": "o"}}', "data.total_amount"),
        (b'{"type": "order.paid", "data": {"id": "o", "total_amount": "699"}}', "total_amount"),
        (b'{"type": "order.paid", "data": {"id": "o", "total_amount": true}}', "total_amount"),
        (b'{"type": "order.paid", "data": {"id": "o", "total_amount": -1}}', "total_amount"),
        (
            (
                b'{"type": "order.refunded", "data": {"id": "o", "total_amount": 1,'
                b' "refunded_amount": 1.5}}'
            ),
            "refunded_amount",
        ),
        (
            b'{"type": "order.paid", "data": {"id": "o", "total_amount": 1, "customer": "c"}}',
            "customer",
        ),
        (
            b'{"type": "order.paid", "data": {"id": "o", "total_amount": 1, "product_id": 9}}',
            "product_id",
        ),
    ],
)
def test_a_malformed_order_event_names_what_is_wrong(body, message):
    with pytest.raises(MalformedWebhookError, match=message):
        parse_polar_event(body)


def test_several_partial_refunds_carry_growing_refunded_amounts():
    amounts = [
        _order(order_refunded(refunded_amount=n, order_id="o1")).refunded_amount
        for n in (100, 350, 699)
    ]

    assert amounts == [100, 350, 699]


def test_a_paid_checkout_on_the_fake_yields_one_order_paid_among_its_events():
    checkout = {
        "id": "chk_1",
        "product_id": PRODUCT_500,
        "total_amount": 699,
        "external_customer_id": "user_a",
        "metadata": {"user_id": "user_a", "pack_id": "pack_500"},
    }

    parsed = [parse_polar_event(body) for body in completed_checkout_events(checkout)]

    assert parsed[:2] == [
        IgnoredBillingEvent("checkout.updated"),
        IgnoredBillingEvent("order.created"),
    ]
    assert isinstance(parsed[2], OrderPaid)
    assert (parsed[2].order.checkout_id, parsed[2].order.user_id) == ("chk_1", UserId("user_a"))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_signed_order_paid_verifies_then_parses(legacy):
    sender = WebhookSender.polar()
    body = order_paid(order_id="ord_signed")
    delivery = sender.legacy(body, at=T0) if legacy else sender.valid(body, at=T0)
    verifier = StandardWebhookVerifier.for_polar([sender.secret], clock=_Fixed())

    verified = verifier.verify(delivery.headers, delivery.body)

    assert _order(verified.body).id == "ord_signed"


class _Fixed:
    def now(self):
        return T0


def _order(body: bytes) -> Order:
    parsed = parse_polar_event(body)
    assert isinstance(parsed, OrderPaid | OrderRefunded)
    return parsed.order
