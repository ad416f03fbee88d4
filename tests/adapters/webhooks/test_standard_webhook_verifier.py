"""StandardWebhookVerifier against deliveries signed by the reference libraries."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mynth_adapters.auth.webhooks import HeaderFamily, StandardWebhookVerifier
from mynth_core.errors import WebhookRejectedError
from mynth_core.testing import FrozenClock
from providers.webhooks import (
    CLERK_SECRET,
    POLAR_LEGACY_SECRET,
    POLAR_SECRET,
    T0,
    Delivery,
    WebhookSender,
    new_secret,
)

BODY = b'{"type":"order.paid","data":{"id":"e1d2c3b4","status":"paid"}}'
CLERK_BODY = b'{"type":"user.deleted","object":"event","data":{"id":"user_1","deleted":true}}'
OLD, NEW = new_secret("the-old-secret"), new_secret("the-new-secret")


@pytest.fixture
def polar(clock: FrozenClock) -> StandardWebhookVerifier:
    return StandardWebhookVerifier.for_polar([POLAR_SECRET], clock=clock)


@pytest.fixture
def clerk(clock: FrozenClock) -> StandardWebhookVerifier:
    return StandardWebhookVerifier.for_clerk([CLERK_SECRET], clock=clock)


def rejection(verifier: StandardWebhookVerifier, delivery: Delivery) -> str:
    with pytest.raises(WebhookRejectedError) as caught:
        verifier.verify(delivery.headers, delivery.body)
    return caught.value.reason


# --- valid deliveries -------------------------------------------------------------------------


def test_a_polar_delivery_signed_by_standardwebhooks_is_verified(polar):
    delivery = WebhookSender.polar().valid(BODY, at=T0)

    verified = polar.verify(delivery.headers, delivery.body)

    assert (verified.id, verified.timestamp, verified.body) == (delivery.id, T0, BODY)


def test_a_clerk_delivery_signed_by_svix_is_verified(clerk):
    delivery = WebhookSender.clerk().valid(CLERK_BODY, at=T0)

    assert clerk.verify(delivery.headers, delivery.body).id == delivery.id


def test_header_names_are_matched_case_insensitively(clerk):
    delivery = WebhookSender.clerk().valid(CLERK_BODY, at=T0)
    shouted = {name.title(): value for name, value in delivery.headers.items()}

    assert clerk.verify(shouted, delivery.body).id == delivery.id


def test_the_body_is_verified_byte_for_byte_and_returned_unparsed(polar):
    body = b'{ "type" : "order.paid",\n  "data": {"name": "\xc3\xa9"} }'
    delivery = WebhookSender.polar().valid(body, at=T0)

    assert polar.verify(delivery.headers, body).body == body
    with pytest.raises(WebhookRejectedError, match="bad-signature"):
        polar.verify(delivery.headers, body.replace(b",\n  ", b", "))


def test_a_duplicate_delivery_verifies_again_under_the_same_id(polar, clock):
    sender = WebhookSender.polar()
    first = sender.valid(BODY, at=T0)
    clock.advance(240)
    again = sender.duplicate(first, at=clock.now())

    assert polar.verify(again.headers, again.body).id == polar.verify(first.headers, BODY).id


@given(body=st.binary(max_size=512).map(lambda b: b.decode("latin-1").encode()), msg=st.uuids())
def test_any_body_signed_by_the_reference_library_verifies(body, msg):
    verifier = StandardWebhookVerifier.for_polar([POLAR_SECRET], clock=FrozenClock(T0))
    delivery = WebhookSender.polar().valid(body, at=T0, msg_id=f"msg_{msg.hex}")

    assert verifier.verify(delivery.headers, body).body == body
    with pytest.raises(WebhookRejectedError):
        verifier.verify(delivery.headers, body + b" ")


# --- bad signatures and timestamps -----------------------------------------------------------


def test_a_signature_made_with_another_secret_is_rejected(polar, clerk):
    assert rejection(polar, WebhookSender.polar().bad_signature(BODY, at=T0)) == "bad-signature"
    assert rejection(clerk, WebhookSender.clerk().bad_signature(BODY, at=T0)) == "bad-signature"


@pytest.mark.parametrize("sender", [WebhookSender.polar, WebhookSender.clerk])
def test_deliveries_more_than_five_minutes_old_or_ahead_are_rejected(sender, clock):
    verifier = StandardWebhookVerifier(
        secrets=[sender().secret], clock=clock, family=HeaderFamily(sender().family.value)
    )

    assert rejection(verifier, sender().stale(BODY, at=T0)) == "stale-timestamp"
    assert rejection(verifier, sender().future(BODY, at=T0)) == "future-timestamp"
    assert rejection(verifier, sender().stale(BODY, at=T0, seconds=3600)) == "stale-timestamp"


@pytest.mark.parametrize("seconds", [1, 299, 300])
def test_deliveries_within_five_minutes_either_way_are_accepted(polar, seconds):
    sender = WebhookSender.polar()

    assert polar.verify(*_parts(sender.stale(BODY, at=T0, seconds=seconds)))
    assert polar.verify(*_parts(sender.future(BODY, at=T0, seconds=seconds)))


@pytest.mark.parametrize(
    "timestamp", ["", " ", "17672256OO", "-1767225600", "1e9", "١٢٣", "9" * 40]
)
def test_a_timestamp_that_is_not_plain_ascii_digits_is_rejected(polar, timestamp):
    delivery = WebhookSender.polar().valid(BODY, at=T0).with_header("webhook-timestamp", timestamp)

    assert rejection(polar, delivery) in {"malformed-timestamp", "missing-header:webhook-timestamp"}


# --- rotation and several signatures ---------------------------------------------------------


def test_during_a_rotation_either_configured_secret_verifies(clock):
    verifier = StandardWebhookVerifier.for_polar([OLD, NEW], clock=clock)

    for secret in (OLD, NEW):
        delivery = WebhookSender.polar(secret).valid(BODY, at=T0)
        assert verifier.verify(delivery.headers, BODY).id == delivery.id


def test_a_header_with_the_old_and_the_new_signature_verifies_with_only_the_new_secret(clock):
    delivery = WebhookSender.polar().rotated(BODY, at=T0, old=OLD, new=NEW)

    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    for secret in (OLD, NEW):
        verifier = StandardWebhookVerifier.for_polar([secret], clock=clock)
        assert verifier.verify(delivery.headers, BODY).id == delivery.id


def test_a_header_with_two_foreign_signatures_is_rejected(polar):
    delivery = WebhookSender.polar().rotated(BODY, at=T0, old=OLD, new=NEW)

    assert rejection(polar, delivery) == "bad-signature"


def test_an_unknown_version_entry_before_the_valid_one_is_ignored(clerk):
    delivery = WebhookSender.clerk().valid(CLERK_BODY, at=T0)
    signature = "v1a,c2lnbmVk " + delivery.headers["svix-signature"]

    assert clerk.verify(delivery.with_header("svix-signature", signature).headers, CLERK_BODY)


# --- Polar's legacy key ----------------------------------------------------------------------


def test_polar_accepts_a_signature_made_with_the_legacy_key(polar):
    delivery = WebhookSender.polar().legacy(BODY, at=T0)

    assert polar.verify(delivery.headers, BODY).id == delivery.id


def test_the_same_legacy_signature_fails_on_the_clerk_verifier(clock):
    # One secret, both families: only the Polar verifier tries the raw-secret key.
    legacy = WebhookSender(POLAR_SECRET).legacy(BODY, at=T0)
    svix_headers = {k.replace("webhook-", "svix-"): v for k, v in legacy.headers.items()}
    clerk = StandardWebhookVerifier.for_clerk([POLAR_SECRET], clock=clock)
    polar = StandardWebhookVerifier.for_polar([POLAR_SECRET], clock=clock)

    assert polar.verify(legacy.headers, BODY).id == legacy.id
    assert rejection(clerk, Delivery(svix_headers, BODY)) == "bad-signature"


def test_an_old_polar_secret_that_is_not_base64_verifies_only_by_the_legacy_key(clock):
    delivery = WebhookSender.polar(POLAR_LEGACY_SECRET).legacy(BODY, at=T0)
    verifier = StandardWebhookVerifier.for_polar([POLAR_LEGACY_SECRET], clock=clock)

    assert verifier.verify(delivery.headers, BODY).id == delivery.id
    with pytest.raises(ValueError, match="secret #1"):
        StandardWebhookVerifier.for_clerk([POLAR_LEGACY_SECRET], clock=clock)


# --- missing headers and configuration --------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "timestamp", "signature"])
@pytest.mark.parametrize("family", ["polar", "clerk"])
def test_a_missing_or_empty_header_is_rejected(family, field, polar, clerk):
    sender, verifier = (
        (WebhookSender.polar(), polar) if family == "polar" else (WebhookSender.clerk(), clerk)
    )
    delivery = sender.valid(BODY, at=T0)
    name = f"{sender.family.value}-{field}"

    assert rejection(verifier, delivery.without(name)) == f"missing-header:{name}"
    assert rejection(verifier, delivery.with_header(name, "  ")) == f"missing-header:{name}"


def test_svix_headers_do_not_satisfy_the_standard_verifier(polar):
    delivery = WebhookSender(POLAR_SECRET, WebhookSender.clerk().family).valid(BODY, at=T0)

    assert rejection(polar, delivery) == "missing-header:webhook-id"


def test_with_no_secret_configured_every_delivery_is_rejected(clock):
    verifier = StandardWebhookVerifier.for_polar([], clock=clock)

    assert rejection(verifier, WebhookSender.polar().valid(BODY, at=T0)) == "not-configured"


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_%%%not-base64%%%"])
def test_a_secret_that_yields_no_key_fails_at_construction(clock, secret):
    with pytest.raises(ValueError, match="secret #1") as caught:
        StandardWebhookVerifier.for_clerk([secret], clock=clock)

    assert secret[6:] not in str(caught.value) or not secret[6:]


def test_secrets_and_signatures_never_appear_in_repr_reasons_or_logs(polar, caplog):
    caplog.set_level(logging.DEBUG)
    delivery = WebhookSender.polar().bad_signature(BODY, at=T0)
    signature = delivery.headers["webhook-signature"].removeprefix("v1,")

    reason = rejection(polar, delivery)

    for text in (repr(polar), reason, caplog.text):
        assert POLAR_SECRET.removeprefix("whsec_") not in text
        assert signature not in text
    assert delivery.id in caplog.text


def _parts(delivery: Delivery) -> tuple[dict[str, str], bytes]:
    return dict(delivery.headers), delivery.body
