from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from mynth_adapters.auth import LOCAL_ISSUER, JwtIdentityVerifier, LocalIssuer, PemKeySource
from mynth_adapters.auth.local import KEY_DIR, KEY_FILE
from mynth_core.errors import InvalidTokenError
from mynth_core.identity import Principal
from mynth_core.ids import UserId


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def other_issuer(tmp_path_factory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("other-data"))


def local_verifier(issuer: LocalIssuer, clock) -> JwtIdentityVerifier:
    return JwtIdentityVerifier(keys=issuer.key_source(), issuer=LOCAL_ISSUER, clock=clock)


async def rejection(verifier: JwtIdentityVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value.reason


def test_the_first_start_creates_one_private_key_file_readable_only_by_its_owner(tmp_path):
    LocalIssuer.load_or_create(tmp_path)

    key_file = tmp_path / KEY_DIR / KEY_FILE
    assert [p.name for p in (tmp_path / KEY_DIR).iterdir()] == [KEY_FILE]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_later_start_reloads_the_same_key(tmp_path):
    first = LocalIssuer.load_or_create(tmp_path)
    key_bytes = (tmp_path / KEY_DIR / KEY_FILE).read_bytes()

    second = LocalIssuer.load_or_create(tmp_path)

    assert second.kid == first.kid
    assert (tmp_path / KEY_DIR / KEY_FILE).read_bytes() == key_bytes


def test_starters_racing_on_an_empty_data_dir_all_end_up_with_one_key(tmp_path):
    with ThreadPoolExecutor(max_workers=4) as pool:
        issuers = list(pool.map(LocalIssuer.load_or_create, [tmp_path] * 4))

    assert len({i.kid for i in issuers}) == 1
    assert [p.name for p in (tmp_path / KEY_DIR).iterdir()] == [KEY_FILE]
    assert issuers[0].kid == LocalIssuer.load_or_create(tmp_path).kid


def test_a_key_file_that_holds_no_rsa_key_stops_the_start(tmp_path):
    (tmp_path / KEY_DIR).mkdir()
    (tmp_path / KEY_DIR / KEY_FILE).write_bytes(b"not a key")

    with pytest.raises(ValueError, match="key"):
        LocalIssuer.load_or_create(tmp_path)


async def test_a_local_token_passes_the_same_verifier_as_clerks(issuer, clock):
    token = issuer.mint("alice", ttl=3600, now=clock.now())

    principal = await local_verifier(issuer, clock).verify(token)

    assert principal.user_id == "alice"
    assert principal.session_id is not None
    assert principal.session_id.startswith("sess_")
    assert principal == Principal(UserId("alice"), principal.session_id)


def test_a_local_token_is_shaped_like_a_clerk_session_token(issuer, clock):
    token = issuer.mint("alice", ttl=600, now=clock.now())

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(clock.now().timestamp())
    assert header == {"alg": "RS256", "kid": issuer.kid, "typ": "JWT"}
    assert claims["iss"] == "mynth-local"
    assert (claims["sub"], claims["v"]) == ("alice", 2)
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 600)


def test_every_local_token_gets_its_own_session_id(issuer, clock):
    tokens = [issuer.mint("alice", ttl=60, now=clock.now()) for _ in range(3)]

    sids = {jwt.decode(t, options={"verify_signature": False})["sid"] for t in tokens}

    assert len(sids) == 3


async def test_a_local_token_expires_after_its_ttl(issuer, clock):
    token = issuer.mint("alice", ttl=60, now=clock.now())
    clock.advance(60 + 5)

    assert await rejection(local_verifier(issuer, clock), token) == "expired"


async def test_a_local_token_fails_a_verifier_for_another_local_key(issuer, other_issuer, clock):
    token = issuer.mint("alice", ttl=60, now=clock.now())

    assert await rejection(local_verifier(other_issuer, clock), token) == "unknown-key"


async def test_a_local_token_fails_a_pem_verifier_for_another_key(issuer, other_issuer, clock):
    pem = other_issuer.private_key.public_key()
    verifier = JwtIdentityVerifier(keys=PemKeySource(pem), issuer=LOCAL_ISSUER, clock=clock)

    token = issuer.mint("alice", ttl=60, now=clock.now())

    assert await rejection(verifier, token) == "bad-signature"


async def test_a_local_token_fails_a_verifier_for_another_issuer(issuer, clock):
    verifier = JwtIdentityVerifier(
        keys=issuer.key_source(), issuer="https://clerk.example.test", clock=clock
    )

    token = issuer.mint("alice", ttl=60, now=clock.now())

    assert await rejection(verifier, token) == "wrong-issuer"


@pytest.mark.parametrize(("user", "ttl"), [("", 60), ("alice", 0), ("alice", -5)])
def test_minting_refuses_an_empty_user_or_a_non_positive_ttl(issuer, clock, user, ttl):
    with pytest.raises(ValueError, match="must"):
        issuer.mint(user, ttl=ttl, now=clock.now())


def test_minting_refuses_a_naive_datetime(issuer, clock):
    with pytest.raises(ValueError, match="aware"):
        issuer.mint("alice", ttl=60, now=clock.now().replace(tzinfo=None))


def test_the_private_key_stays_out_of_the_repr(issuer):
    assert "private_key" not in repr(issuer)
    assert issuer.kid in repr(issuer)
