from __future__ import annotations

import asyncio
import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given
from hypothesis import strategies as st

from mynth_adapters.auth import JwtIdentityVerifier, PemKeySource, StaticKeySource
from mynth_core.clock import SystemClock
from mynth_core.errors import InvalidTokenError
from mynth_core.identity import Principal
from mynth_core.ids import UserId
from providers.clerk import (
    ABSENT,
    DEFAULT_SID,
    DEFAULT_SUB,
    FAKE_ISSUER,
    FAKE_ORIGIN,
    ClerkTokens,
)


@pytest.fixture
def tokens(keys, clock):
    return ClerkTokens(key=keys.primary, now=clock.now())


@pytest.fixture
def pem_verifier(keys, clock):
    source = PemKeySource.from_pem(keys.primary.public_pem())
    return JwtIdentityVerifier(keys=source, issuer=FAKE_ISSUER, clock=clock)


@pytest.fixture
def strict_verifier(keys, clock):
    """Keyed by kid, and with an azp allow-list."""
    source = StaticKeySource(kid=keys.primary.kid, key=keys.primary.public_key)
    return JwtIdentityVerifier(
        keys=source,
        issuer=FAKE_ISSUER,
        authorized_parties=frozenset({FAKE_ORIGIN, "https://other.example.test"}),
        clock=clock,
    )


async def rejection(verifier: JwtIdentityVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_raw(key, header: bytes, payload: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    signature = key.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


# --- accepted -------------------------------------------------------------------------------


async def test_a_valid_clerk_token_yields_its_sub_and_sid(strict_verifier, tokens):
    principal = await strict_verifier.verify(tokens.mint())

    assert principal == Principal(user_id=UserId(DEFAULT_SUB), session_id=DEFAULT_SID)


async def test_the_principal_carries_the_tokens_own_sub_and_sid(strict_verifier, tokens):
    token = tokens.mint(sub="user_ada", sid="sess_ada1")

    assert await strict_verifier.verify(token) == Principal(UserId("user_ada"), "sess_ada1")


async def test_validity_is_judged_by_the_injected_clock_not_the_wall_clock(keys, pem_verifier):
    token = ClerkTokens(key=keys.primary, now=pem_verifier.clock.now()).mint()

    # The clock stands in 2031: by the wall clock this token is not valid yet.
    assert (await pem_verifier.verify(token)).user_id == DEFAULT_SUB


async def test_a_token_without_nbf_is_accepted(pem_verifier, tokens):
    assert (await pem_verifier.verify(tokens.mint(nbf=ABSENT))).user_id == DEFAULT_SUB


# --- time and leeway ------------------------------------------------------------------------


@pytest.mark.parametrize("seconds_ago", [0, 3, 4])
async def test_a_token_expired_within_the_leeway_is_accepted(pem_verifier, tokens, seconds_ago):
    token = tokens.mint(iat=tokens.epoch - 60, exp=tokens.epoch - seconds_ago)

    assert (await pem_verifier.verify(token)).user_id == DEFAULT_SUB


@pytest.mark.parametrize("seconds_ago", [5, 6, 3600])
async def test_a_token_expired_beyond_the_leeway_is_expired(pem_verifier, tokens, seconds_ago):
    token = tokens.mint(iat=tokens.epoch - 7200, exp=tokens.epoch - seconds_ago)

    assert await rejection(pem_verifier, token) == "expired"


async def test_a_zero_leeway_rejects_a_token_at_its_exp_second(keys, clock, tokens):
    source = PemKeySource.from_pem(keys.primary.public_pem())
    verifier = JwtIdentityVerifier(keys=source, issuer=FAKE_ISSUER, leeway=0, clock=clock)

    assert await rejection(verifier, tokens.mint(exp=tokens.epoch)) == "expired"
    assert (await verifier.verify(tokens.mint(exp=tokens.epoch + 1))).user_id == DEFAULT_SUB


async def test_a_token_whose_nbf_is_beyond_the_leeway_is_not_yet_valid(pem_verifier, tokens):
    token = tokens.mint(nbf=tokens.epoch + 6)

    assert await rejection(pem_verifier, token) == "not-yet-valid"


async def test_a_token_whose_nbf_is_within_the_leeway_is_accepted(pem_verifier, tokens):
    token = tokens.mint(nbf=tokens.epoch + 5, iat=tokens.epoch + 5)

    assert (await pem_verifier.verify(token)).user_id == DEFAULT_SUB


async def test_a_token_issued_in_the_future_is_rejected(pem_verifier, tokens):
    token = tokens.mint(iat=tokens.epoch + 30, nbf=ABSENT)

    assert await rejection(pem_verifier, token) == "issued-in-future"


async def test_a_verifier_rejects_a_negative_leeway(pem_verifier):
    with pytest.raises(ValueError, match="leeway"):
        JwtIdentityVerifier(keys=pem_verifier.keys, issuer="x", leeway=-1, clock=pem_verifier.clock)


# --- issuer and authorized party -----------------------------------------------------------


@pytest.mark.parametrize(
    "iss", ["https://evil.example.test", f"{FAKE_ISSUER}/", FAKE_ISSUER.upper(), 42]
)
async def test_a_token_from_another_issuer_is_rejected(pem_verifier, tokens, iss):
    assert await rejection(pem_verifier, tokens.mint(iss=iss)) == "wrong-issuer"


@pytest.mark.parametrize("azp", [ABSENT, "https://evil.example.test", "", ["x"], None])
async def test_with_an_allow_list_a_missing_or_foreign_azp_is_rejected(
    strict_verifier, tokens, azp
):
    # None keeps the factory default, so map it to an explicit JSON null.
    token = tokens.mint(azp=azp) if azp is not None else tokens.mint(extra={"azp": None})

    assert await rejection(strict_verifier, token) == "unauthorized-party"


async def test_with_an_allow_list_any_listed_azp_is_accepted(strict_verifier, tokens):
    token = tokens.mint(azp="https://other.example.test")

    assert (await strict_verifier.verify(token)).user_id == DEFAULT_SUB


@pytest.mark.parametrize("azp", [ABSENT, "https://anywhere.example.test"])
async def test_without_an_allow_list_azp_is_not_checked(pem_verifier, tokens, azp):
    assert (await pem_verifier.verify(tokens.mint(azp=azp))).user_id == DEFAULT_SUB


# --- required claims ------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["sid", "sub", "exp", "iat", "iss"])
async def test_a_token_without_a_required_claim_is_rejected(strict_verifier, tokens, claim):
    token = tokens.mint(**{claim: ABSENT})

    assert await rejection(strict_verifier, token) == f"missing-claim:{claim}"


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", ""), ("sub", 7), ("sid", ""), ("sid", ["sess_1"]), ("exp", "soon"), ("exp", True)],
)
async def test_a_required_claim_of_the_wrong_type_is_rejected(pem_verifier, tokens, claim, value):
    token = tokens.mint(**{claim: value})

    assert await rejection(pem_verifier, token) == f"invalid-claim:{claim}"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_a_time_claim_of_the_wrong_type_is_rejected(pem_verifier, tokens, claim):
    token = tokens.mint(**{claim: "2031-05-04"})

    assert await rejection(pem_verifier, token) == f"invalid-claim:{claim}"


# --- algorithms and signatures -------------------------------------------------------------


async def test_an_alg_none_token_is_rejected(strict_verifier, tokens):
    token = tokens.mint(alg="none")

    assert token.endswith(".")
    assert await rejection(strict_verifier, token) == "unsupported-algorithm"


async def test_an_hs256_token_signed_with_the_public_key_pem_is_rejected(strict_verifier, tokens):
    token = tokens.mint(alg="HS256")  # HMAC keyed with the public PEM: the alg-confusion attack

    assert await rejection(strict_verifier, token) == "unsupported-algorithm"


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "rs256", ABSENT, 256])
async def test_any_alg_but_rs256_is_rejected(strict_verifier, tokens, alg):
    assert await rejection(strict_verifier, tokens.mint(alg=alg)) == "unsupported-algorithm"


async def test_a_token_signed_by_another_key_is_rejected(pem_verifier, tokens, keys):
    token = tokens.mint(signing_key=keys.stranger)

    assert await rejection(pem_verifier, token) == "bad-signature"


async def test_a_token_whose_payload_was_swapped_is_rejected(pem_verifier, tokens):
    header, _, signature = tokens.mint().split(".")
    forged_payload = tokens.mint(sub="user_admin").split(".")[1]

    forged = f"{header}.{forged_payload}.{signature}"

    assert await rejection(pem_verifier, forged) == "bad-signature"


async def test_a_token_with_an_rs256_header_but_an_hmac_signature_is_rejected(pem_verifier, tokens):
    # Header says RS256; the bytes are an HS256 MAC keyed with the public PEM.
    hs_token = tokens.mint(alg="HS256")
    rs_header = tokens.mint().split(".")[0]
    _, payload, mac = hs_token.split(".")

    assert await rejection(pem_verifier, f"{rs_header}.{payload}.{mac}") == "bad-signature"


async def test_a_token_with_an_unknown_kid_is_rejected_by_a_kid_keyed_source(
    strict_verifier, tokens
):
    assert await rejection(strict_verifier, tokens.mint(kid="ins_unknown")) == "unknown-key"


async def test_a_pem_source_ignores_the_kid(pem_verifier, tokens):
    for kid in ("ins_anything", ABSENT):
        assert (await pem_verifier.verify(tokens.mint(kid=kid))).user_id == DEFAULT_SUB


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "!!!.@@@.###",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln ",
        "eyJhbGciOiJSUzI1NiJ9..c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=",
        "bm90IGpzb24.e30.c2ln",  # header "not json"
        "WzFd.e30.c2ln",  # header [1]
        "x.e30.c2ln",  # header of impossible base64 length
        "eyJhbGciOiJSUzI1NiIsImtpZCI6N30.e30.c2ln",  # kid 7
        "eyJhbGciOiJSUzI1NiJ9." + "A" * 9000 + ".c2ln",  # oversized
    ],
)
async def test_a_malformed_token_is_rejected_as_malformed(pem_verifier, token):
    assert await rejection(pem_verifier, token) == "malformed"


async def test_a_header_without_alg_is_an_unsupported_algorithm(pem_verifier):
    assert await rejection(pem_verifier, "e30.e30.c2ln") == "unsupported-algorithm"


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"exp": NaN}', b"\xff\xfe"])
async def test_a_correctly_signed_but_unparsable_payload_is_malformed(pem_verifier, keys, payload):
    token = signed_raw(keys.primary, b'{"alg":"RS256","typ":"JWT"}', payload)

    assert await rejection(pem_verifier, token) == "malformed"


async def test_an_unknown_critical_header_is_malformed(pem_verifier, keys):
    claims = json.dumps({"sub": "u", "sid": "s"}).encode()
    token = signed_raw(keys.primary, b'{"alg":"RS256","crit":["exp"],"exp":1}', claims)

    assert await rejection(pem_verifier, token) == "malformed"


@pytest.fixture(scope="module")
def pem_verifier_sync(keys):
    source = PemKeySource.from_pem(keys.primary.public_pem())
    return JwtIdentityVerifier(keys=source, issuer=FAKE_ISSUER, clock=SystemClock())


segment = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@given(token=st.text(max_size=200) | st.builds("{}.{}.{}".format, segment, segment, segment))
def test_no_input_escapes_as_anything_but_an_invalid_token_error(pem_verifier_sync, token):
    with pytest.raises(InvalidTokenError):
        asyncio.run(pem_verifier_sync.verify(token))


async def test_a_verified_token_is_served_from_memory_but_still_expires(
    pem_verifier, tokens, clock
) -> None:
    token = tokens.mint(exp=int(clock.now().timestamp()) + 60)
    first = await pem_verifier.verify(token)
    assert await pem_verifier.verify(token) == first

    clock.advance(60 + 5)  # expiry plus the leeway

    assert await rejection(pem_verifier, token) == "expired"


async def test_a_rejected_token_is_never_remembered(strict_verifier, tokens) -> None:
    token = tokens.mint(azp="https://evil.example.test")
    assert await rejection(strict_verifier, token) == "unauthorized-party"
    assert await rejection(strict_verifier, token) == "unauthorized-party"


async def test_the_verified_token_memory_is_bounded(keys, tokens, clock) -> None:
    source = PemKeySource.from_pem(keys.primary.public_pem())
    verifier = JwtIdentityVerifier(keys=source, issuer=FAKE_ISSUER, clock=clock, cache_size=2)
    minted = [tokens.mint(sub=f"user_{n}") for n in range(3)]
    for token in minted:
        await verifier.verify(token)
    assert list(verifier._verified) == minted[1:]
