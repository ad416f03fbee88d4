from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mynth_adapters.auth import JwksKeySource, JwtIdentityVerifier
from mynth_core.errors import InvalidTokenError
from providers.clerk import (
    ABSENT,
    BACKEND_JWKS_PATH,
    DEFAULT_SUB,
    FRONTEND_JWKS_PATH,
    ClerkKey,
    ClerkTokens,
    FakeClerk,
    Reply,
    closed_port,
    jwks_document,
    malformed_json,
    server_error,
    slow,
)

TTL = 3600
COOLDOWN = 30


async def rejection(verifier: JwtIdentityVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value.reason


async def accepted(verifier: JwtIdentityVerifier, token: str) -> bool:
    return (await verifier.verify(token)).user_id == DEFAULT_SUB


# --- the happy path and the cache -----------------------------------------------------------


async def test_a_valid_token_is_verified_against_the_fetched_jwks(verifier, mint, clerk):
    principal = await verifier.verify(mint())

    assert principal.user_id == DEFAULT_SUB
    assert clerk.count(FRONTEND_JWKS_PATH) == 1
    assert clerk.requests[0].header("authorization") is None


async def test_known_keys_are_served_from_the_cache_until_the_ttl(verifier, mint, clerk, clock):
    for _ in range(5):
        assert await accepted(verifier, mint())
    clock.advance(TTL - 1)

    assert await accepted(verifier, mint())
    assert clerk.count() == 1


async def test_after_the_ttl_the_set_is_refetched_and_retired_keys_stop_working(
    verifier, mint, clerk, clock, keys
):
    assert await accepted(verifier, mint())
    clerk.publish(keys.rotated)
    clerk.retire(keys.primary.kid)
    clock.advance(TTL)

    assert await rejection(verifier, mint()) == "unknown-key"
    assert await accepted(verifier, mint(keys.rotated))
    assert clerk.count() == 2


async def test_the_backend_api_jwks_is_fetched_with_the_secret_key(http, clerk, clock, mint):
    source = JwksKeySource(
        client=http, url=clerk.backend_jwks_url, clock=clock, bearer_token=clerk.secret_key
    )
    verifier = JwtIdentityVerifier(keys=source, issuer=clerk.issuer, clock=clock)

    assert await accepted(verifier, mint())
    assert clerk.count(BACKEND_JWKS_PATH) == 1
    assert clerk.requests[0].header("authorization") == f"Bearer {clerk.secret_key}"


async def test_a_wrong_secret_key_yields_no_keys_and_is_logged_without_the_secret(
    http, clerk, clock, mint, caplog
):
    source = JwksKeySource(
        client=http, url=clerk.backend_jwks_url, clock=clock, bearer_token="sk_test_wrong"
    )
    verifier = JwtIdentityVerifier(keys=source, issuer=clerk.issuer, clock=clock)
    token = mint()

    assert await rejection(verifier, token) == "unknown-key"
    assert "status 401" in caplog.text
    assert "sk_test_wrong" not in caplog.text
    assert token not in caplog.text


# --- unknown kid: refetch once, single-flight, cooldown -------------------------------------


async def test_a_kid_rotated_in_later_is_accepted_after_exactly_one_refetch(
    verifier, mint, clerk, clock, keys
):
    assert await accepted(verifier, mint())
    clerk.publish(keys.rotated)
    clock.advance(COOLDOWN + 1)

    assert await accepted(verifier, mint(keys.rotated))
    assert await accepted(verifier, mint(keys.rotated))
    assert await accepted(verifier, mint())
    assert clerk.count() == 2


async def test_a_kid_never_published_is_rejected_without_a_second_fetch_within_the_cooldown(
    verifier, mint, clerk, clock, keys
):
    assert await accepted(verifier, mint())
    clock.advance(COOLDOWN + 1)

    assert await rejection(verifier, mint(keys.stranger)) == "unknown-key"
    assert clerk.count() == 2
    for _ in range(3):
        clock.advance(9)
        assert await rejection(verifier, mint(keys.stranger)) == "unknown-key"
    assert clerk.count() == 2

    clock.advance(4)  # 31 s after the last fetch
    assert await rejection(verifier, mint(keys.stranger)) == "unknown-key"
    assert clerk.count() == 3


async def test_an_unknown_kid_right_after_a_fetch_does_not_refetch(verifier, mint, clerk, keys):
    assert await accepted(verifier, mint())

    assert await rejection(verifier, mint(kid="ins_random_1")) == "unknown-key"
    assert await rejection(verifier, mint(kid="ins_random_2")) == "unknown-key"
    assert clerk.count() == 1


async def test_concurrent_verifications_with_an_unknown_kid_share_one_fetch(
    verifier, mint, clerk, clock, keys
):
    assert await accepted(verifier, mint())
    clerk.publish(keys.rotated)
    clock.advance(COOLDOWN + 1)
    clerk.script(slow(0.2))  # so that every caller arrives while the fetch is in flight
    token = mint(keys.rotated)

    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))

    assert {p.user_id for p in principals} == {DEFAULT_SUB}
    assert clerk.count() == 2


async def test_concurrent_first_verifications_share_one_fetch(verifier, mint, clerk):
    clerk.script(slow(0.2))
    token = mint()

    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))

    assert len(principals) == 20
    assert clerk.count() == 1


async def test_a_token_without_kid_is_rejected_before_any_fetch(verifier, mint, clerk):
    assert await rejection(verifier, mint(kid=ABSENT)) == "unknown-key"
    assert clerk.count() == 0


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_a_hostile_alg_is_rejected_before_any_key_lookup(verifier, mint, clerk, alg):
    assert await rejection(verifier, mint(alg=alg, kid="ins_unknown")) == "unsupported-algorithm"
    assert clerk.count() == 0


async def test_a_token_signed_by_another_key_under_a_known_kid_is_rejected(
    verifier, mint, clerk, keys
):
    token = mint(signing_key=keys.stranger)  # header kid stays ins_primary

    assert await rejection(verifier, token) == "bad-signature"
    assert clerk.count() == 1


# --- JWKS faults: stale-if-error ------------------------------------------------------------


async def test_a_jwks_500_is_retried_once_and_the_cached_keys_keep_working(
    verifier, mint, clerk, clock, caplog
):
    assert await accepted(verifier, mint())
    clock.advance(TTL)
    clerk.script(server_error(), server_error())
    caplog.set_level(logging.WARNING)
    token = mint()

    assert await accepted(verifier, token)
    assert clerk.count() == 3
    assert "status 500" in caplog.text
    assert token not in caplog.text


async def test_a_single_jwks_500_is_recovered_by_the_retry(verifier, mint, clerk, clock, keys):
    assert await accepted(verifier, mint())
    clerk.publish(keys.rotated)
    clock.advance(COOLDOWN + 1)
    clerk.script(server_error(503))

    assert await accepted(verifier, mint(keys.rotated))
    assert clerk.count() == 3


async def test_after_a_failed_fetch_no_new_fetch_starts_within_the_cooldown(
    verifier, mint, clerk, clock
):
    assert await accepted(verifier, mint())
    clock.advance(TTL)
    clerk.script(server_error(), server_error())
    assert await accepted(verifier, mint())
    clock.advance(COOLDOWN - 1)

    assert await accepted(verifier, mint())
    assert clerk.count() == 3
    clock.advance(1)
    assert await accepted(verifier, mint())
    assert clerk.count() == 4


async def test_malformed_jwks_json_keeps_the_cached_keys_and_is_not_retried(
    verifier, mint, clerk, clock
):
    assert await accepted(verifier, mint())
    clock.advance(TTL)
    clerk.script(malformed_json())

    assert await accepted(verifier, mint())
    assert clerk.count() == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b'{"keys": []}'),
        Reply(body=b'{"keys": {}}'),
        Reply(body=b"[]"),
        Reply(body=b"<html>502 Bad Gateway</html>", content_type="text/html"),
        Reply(status=404, body=b"{}"),
        Reply(status=301, body=b""),
    ],
    ids=["no-keys", "keys-not-a-list", "not-an-object", "html", "404", "redirect"],
)
async def test_a_useless_jwks_answer_keeps_the_cached_keys(verifier, mint, clerk, clock, reply):
    assert await accepted(verifier, mint())
    clock.advance(TTL)
    clerk.script(reply)

    assert await accepted(verifier, mint())
    assert clerk.count() == 2


async def test_a_slow_jwks_times_out_and_the_cached_keys_keep_working(verifier, mint, clerk, clock):
    assert await accepted(verifier, mint())
    clock.advance(TTL)
    clerk.script(slow(5))
    started = time.monotonic()

    assert await accepted(verifier, mint())
    assert time.monotonic() - started < 1.5  # the source's overall timeout is 0.5 s
    assert clerk.count() == 2


async def test_a_refused_connection_keeps_the_cached_keys(http, clock, keys):
    with FakeClerk.running([keys.primary]) as clerk:
        source = JwksKeySource(client=http, url=clerk.jwks_url, clock=clock)
        verifier = JwtIdentityVerifier(keys=source, issuer=clerk.issuer, clock=clock)
        assert await accepted(verifier, clerk.tokens(keys.primary, now=clock.now()).mint())
        clerk.stop()  # the port is closed from now on
        clock.advance(TTL)

        assert await accepted(verifier, clerk.tokens(keys.primary, now=clock.now()).mint())
        assert clerk.count() == 1


async def test_with_no_cached_keys_an_unreachable_jwks_rejects_the_token(http, clock, keys):
    url = f"http://127.0.0.1:{closed_port()}/.well-known/jwks.json"
    source = JwksKeySource(client=http, url=url, clock=clock)
    verifier = JwtIdentityVerifier(keys=source, issuer="https://clerk.example.test", clock=clock)
    token = ClerkTokens(key=keys.primary, now=clock.now()).mint()

    assert await rejection(verifier, token) == "unknown-key"


# --- which JWKS entries count -----------------------------------------------------------------


def entry(key: ClerkKey, **changes: object) -> dict[str, object]:
    jwk: dict[str, object] = dict(key.jwk())
    for name, value in changes.items():
        if value is ABSENT:
            del jwk[name]
        else:
            jwk[name] = value
    return jwk


async def test_only_rsa_rs256_signing_keys_are_taken_from_the_jwks(verifier, mint, clerk, keys):
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    weak = ClerkKey("ins_weak", weak_key)
    document = {
        "keys": [
            entry(keys.primary, alg=ABSENT, use=ABSENT),
            entry(keys.rotated.under("ins_enc"), use="enc"),
            entry(keys.rotated.under("ins_rs512"), alg="RS512"),
            entry(keys.rotated.under("ins_ec"), kty="EC"),
            entry(keys.rotated.under("ins_no_n"), n=ABSENT),
            entry(keys.rotated.under("ins_bad_n"), n="***"),
            entry(keys.rotated, kid=ABSENT),
            entry(weak),
            {"kty": "oct", "kid": "ins_hmac", "k": "c2VjcmV0"},
            "not an object",
        ]
    }
    clerk.script(Reply(body=json.dumps(document).encode()))

    assert await accepted(verifier, mint())
    for kid in ("ins_enc", "ins_rs512", "ins_ec", "ins_no_n", "ins_bad_n", "ins_hmac"):
        assert await rejection(verifier, mint(keys.rotated, kid=kid)) == "unknown-key"
    assert await rejection(verifier, mint(weak)) == "unknown-key"
    assert clerk.count() == 1


def test_the_fake_publishes_jwks_shaped_like_clerks(keys):
    (jwk,) = jwks_document([keys.primary])["keys"]

    assert set(jwk) == {"use", "kty", "kid", "alg", "n", "e"}
    assert (jwk["use"], jwk["kty"], jwk["kid"], jwk["alg"], jwk["e"]) == (
        "sig",
        "RSA",
        "ins_primary",
        "RS256",
        "AQAB",
    )


async def test_a_cancelled_fetch_leaves_the_next_caller_free_to_fetch(verifier, mint, clerk):
    clerk.script(slow(0.3))
    first = asyncio.create_task(verifier.verify(mint()))
    await asyncio.sleep(0.1)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    assert await accepted(verifier, mint())
    assert clerk.count() == 2


async def test_a_clock_that_jumped_backwards_allows_one_refetch(verifier, mint, clerk, clock):
    assert await accepted(verifier, mint())
    clock.advance(-600)

    assert await accepted(verifier, mint())
    assert await accepted(verifier, mint())
    assert clerk.count() == 2
