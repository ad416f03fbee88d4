from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from mynth_adapters.auth import PemKeySource, StaticKeySource
from mynth_adapters.auth.keys import jwk_thumbprint
from mynth_core.errors import InvalidTokenError


def spki(public_key):
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_a_pem_source_returns_its_key_for_any_kid(keys):
    source = PemKeySource.from_pem(keys.primary.public_pem().decode())

    for kid in (None, "ins_primary", "ins_whatever"):
        key = await source.key_for(kid)
        assert key.public_numbers() == keys.primary.public_key.public_numbers()


def test_a_pem_source_refuses_a_key_that_is_not_rsa():
    pem = spki(ec.generate_private_key(ec.SECP256R1()).public_key())

    with pytest.raises(ValueError, match="RSA"):
        PemKeySource.from_pem(pem)


def test_a_pem_source_refuses_an_rsa_key_shorter_than_2048_bits():
    pem = spki(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())  # noqa: S505

    with pytest.raises(ValueError, match="2048"):
        PemKeySource.from_pem(pem)


def test_a_pem_source_refuses_text_that_is_no_pem():
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's own message
        PemKeySource.from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


async def test_a_static_source_knows_only_its_own_kid(keys):
    source = StaticKeySource(kid="ins_primary", key=keys.primary.public_key)

    key = await source.key_for("ins_primary")
    assert key.public_numbers() == keys.primary.public_key.public_numbers()
    for kid in (None, "ins_other"):
        with pytest.raises(InvalidTokenError) as caught:
            await source.key_for(kid)
        assert caught.value.reason == "unknown-key"


def test_the_kid_thumbprint_matches_the_rfc_7638_example():
    # RFC 7638 §3.1: this key's SHA-256 thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    n = int.from_bytes(base64.urlsafe_b64decode(RFC7638_N + "=" * (-len(RFC7638_N) % 4)), "big")
    key = RSAPublicNumbers(e=65537, n=n).public_key()

    assert jwk_thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq"
    "Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu"
    "0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
