"""LocalIssuer: the embedded profile's dev-token issuer, with its key pair in the data directory."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

import attrs
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mynth_adapters.auth.keys import MIN_RSA_BITS, StaticKeySource, jwk_thumbprint

if TYPE_CHECKING:
    from mynth_adapters.auth.keys import KeySource

_log = logging.getLogger(__name__)

LOCAL_ISSUER: Final = "mynth-local"
KEY_DIR: Final = "dev-keys"
KEY_FILE: Final = "local-issuer.pem"


def _thumbprint(issuer: LocalIssuer) -> str:
    return jwk_thumbprint(issuer.private_key.public_key())


@attrs.frozen
class LocalIssuer:
    """Mints Clerk-shaped RS256 session tokens (issuer `mynth-local`) for the embedded profile.

    Its tokens are checked by the same `JwtIdentityVerifier` as Clerk's, through `key_source()`;
    `kid` is the key's RFC 7638 thumbprint.
    """

    issuer: ClassVar[str] = LOCAL_ISSUER

    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)
    kid: str = attrs.field(init=False, default=attrs.Factory(_thumbprint, takes_self=True))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> LocalIssuer:
        """Load `data_dir/dev-keys/local-issuer.pem`, creating an RSA-2048 key there first if none.

        Creation is atomic: a concurrent starter that loses the race loads the winner's key.
        """
        path = data_dir / KEY_DIR / KEY_FILE
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_key_file(path)
        return cls(_load_key_file(path))

    def mint(self, user_id: str, *, ttl: int, now: datetime) -> str:
        """A session token for `user_id` (`sub`) valid from `now` for `ttl` seconds."""
        if not user_id:
            raise ValueError("user_id must not be empty")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        issued_at = int(now.timestamp())
        claims = {
            "sub": user_id,
            "sid": f"sess_{secrets.token_urlsafe(16)}",
            "iss": LOCAL_ISSUER,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl,
            "jti": secrets.token_hex(10),
            "v": 2,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def key_source(self) -> KeySource:
        """The public half, for a `JwtIdentityVerifier` with `issuer=LOCAL_ISSUER`."""
        return StaticKeySource(kid=self.kid, key=self.private_key.public_key())


def _create_key_file(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        # link() never replaces: the first complete file wins and nobody sees a partial one.
        try:
            os.link(scratch, path)
        except FileExistsError:
            _log.debug("another process created %s first; using its key", path)
        else:
            _log.info("created the local issuer's key pair in %s", path)
    finally:
        scratch.unlink(missing_ok=True)


def _load_key_file(path: Path) -> rsa.RSAPrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _log.warning("%s is readable by others (mode %o); expected 0600", path, mode)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:  # not PEM, or a password-protected one
        raise ValueError(f"{path} is no readable PEM private key; delete it to start over") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
        raise ValueError(
            f"{path} holds no RSA-{MIN_RSA_BITS}+ private key; delete it to start over"
        )
    return key
