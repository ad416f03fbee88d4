"""PROVIDERS §5.4: the published test vectors, with `now` frozen at their timestamp."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import attrs
import pytest

from mynth_adapters.auth.webhooks import (
    HeaderFamily,
    StandardWebhookVerifier,
    legacy_key,
    standard_key,
)
from mynth_core.errors import WebhookRejectedError


@attrs.frozen
class Vector:
    secret: str
    msg_id: str
    timestamp: int
    body: bytes
    signature: str


SPEC = Vector(
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_p5jXN8AQM9LWM0D4loKWxJek",
    1614265330,
    b'{"test": 2432232314}',
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
)
POLAR_BODY = (
    b'{"type":"order.paid","timestamp":"2026-01-01T00:00:00Z",'
    b'"data":{"id":"ord_123","status":"paid"}}'
)
POLAR_STANDARD = Vector(
    "whsec_ZmFrZS1wb2xhci1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
    "msg_2fakeWebhookId0001",
    1767225600,
    POLAR_BODY,
    "v1,gaTOwXllCr0sjcYKFrcmsNcyb8o9rqjWKGEqil4UmT0=",
)
POLAR_LEGACY = attrs.evolve(
    POLAR_STANDARD, signature="v1,pNpYiHx/4SBAXhdpzFUbPzI3TfRHfPPMaVwDr/gPgEQ="
)
CLERK = Vector(
    "whsec_bXludGgtY2xlcmstdGVzdC1rZXktMDEyMzQ1Njc4OQ==",
    "msg_2q7clerkWebhook0001",
    1767225600,
    b'{"data":{"deleted":true,"id":"user_2q7Pz5tXo9Wd1LmN","object":"user"},"object":"event","type":"user.deleted"}',
    "v1,Hz8sOcTWodUzR7B7ZATzYZrEqkXbVvsZPGrWxJR0OB8=",
)


@attrs.define
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


def clock_at(timestamp: int, offset: int = 0) -> FixedClock:
    return FixedClock(datetime.fromtimestamp(timestamp + offset, UTC))


def headers(vector: Vector, family: HeaderFamily, signature: str | None = None) -> dict[str, str]:
    return {
        family.header("id"): vector.msg_id,
        family.header("timestamp"): str(vector.timestamp),
        family.header("signature"): vector.signature if signature is None else signature,
    }


def verifier(
    vector: Vector, family: HeaderFamily, *, legacy: bool = False, offset: int = 0
) -> StandardWebhookVerifier:
    return StandardWebhookVerifier(
        secrets=(vector.secret,),
        clock=clock_at(vector.timestamp, offset),
        family=family,
        legacy_keys=legacy,
    )


def rejection(verifier: StandardWebhookVerifier, vector: Vector, **kwargs: str) -> str:
    family = verifier.family
    with pytest.raises(WebhookRejectedError) as caught:
        verifier.verify(headers(vector, family, **kwargs), vector.body)
    return caught.value.reason


@pytest.mark.parametrize(
    ("vector", "family", "legacy"),
    [
        pytest.param(SPEC, HeaderFamily.STANDARD, False, id="1-spec-standard-headers"),
        pytest.param(SPEC, HeaderFamily.SVIX, False, id="1-spec-svix-headers"),
        pytest.param(POLAR_STANDARD, HeaderFamily.STANDARD, True, id="2-polar-standard-key"),
        pytest.param(POLAR_LEGACY, HeaderFamily.STANDARD, True, id="3-polar-legacy-key"),
        pytest.param(CLERK, HeaderFamily.SVIX, False, id="4-clerk-svix"),
    ],
)
def test_every_published_vector_verifies(vector, family, legacy):
    delivery = verifier(vector, family, legacy=legacy).verify(headers(vector, family), vector.body)

    assert delivery.id == vector.msg_id
    assert delivery.timestamp == datetime.fromtimestamp(vector.timestamp, UTC)
    assert delivery.body == vector.body


def test_changing_one_digit_of_the_body_breaks_the_signature():
    check = verifier(SPEC, HeaderFamily.STANDARD)

    with pytest.raises(WebhookRejectedError, match="bad-signature"):
        check.verify(headers(SPEC, HeaderFamily.STANDARD), b'{"test": 2432232315}')


@pytest.mark.parametrize(("offset", "reason"), [(301, "stale"), (-301, "future")])
def test_a_timestamp_301_seconds_away_is_rejected_either_way(offset, reason):
    check = verifier(SPEC, HeaderFamily.STANDARD, offset=offset)

    assert rejection(check, SPEC) == f"{reason}-timestamp"


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_a_timestamp_at_most_300_seconds_away_is_accepted(offset):
    check = verifier(SPEC, HeaderFamily.STANDARD, offset=offset)

    assert check.verify(headers(SPEC, HeaderFamily.STANDARD), SPEC.body).id == SPEC.msg_id


def test_entries_of_other_versions_never_match():
    check = verifier(SPEC, HeaderFamily.STANDARD)

    assert rejection(check, SPEC, signature="v1a,abc v2,xyz") == "bad-signature"


def test_malformed_entries_are_skipped_and_a_later_valid_one_matches():
    check = verifier(SPEC, HeaderFamily.STANDARD)
    signature = f"garbage v1,!!! v1 ,x v1, {SPEC.signature}"

    assert check.verify(headers(SPEC, HeaderFamily.STANDARD, signature), SPEC.body).id


def test_the_legacy_signature_fails_without_legacy_keys():
    check = verifier(POLAR_LEGACY, HeaderFamily.STANDARD, legacy=False)

    assert rejection(check, POLAR_LEGACY) == "bad-signature"


def test_each_derivation_signs_only_its_own_vector():
    signed = f"{POLAR_STANDARD.msg_id}.{POLAR_STANDARD.timestamp}.".encode() + POLAR_BODY

    def sign(key: bytes | None) -> str:
        assert key is not None
        return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    assert standard_key(POLAR_STANDARD.secret) == b"fake-polar-key-0123456789abcdef"
    assert sign(standard_key(POLAR_STANDARD.secret)) == POLAR_STANDARD.signature
    assert sign(legacy_key(POLAR_STANDARD.secret)) == POLAR_LEGACY.signature
    assert POLAR_STANDARD.signature != POLAR_LEGACY.signature


def test_the_clerk_vector_fails_under_standard_webhook_headers():
    check = verifier(CLERK, HeaderFamily.STANDARD)

    with pytest.raises(WebhookRejectedError, match="missing-header:webhook-id"):
        check.verify(headers(CLERK, HeaderFamily.SVIX), CLERK.body)
