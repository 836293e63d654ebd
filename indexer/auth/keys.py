"""The built-in issuer's signing key: ES256, made on first run, kept 0600.

The key id is the RFC 7638 thumbprint of the public key, so it changes exactly
when the key does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from indexer.auth.errors import AuthFileError
from indexer.auth.files import write_private

log = logging.getLogger(__name__)

ALGORITHM = "ES256"


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    algorithm: str = ALGORITHM

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def load_or_create(path: Path) -> SigningKey:
    """Read the key at ``path``, writing a new one there first if it is missing."""
    if not path.exists():
        _create(path)
    try:
        pem = path.read_bytes()
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError) as exc:
        raise AuthFileError(f"cannot read the signing key {path}: {exc}") from exc
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise AuthFileError(f"{path} holds no P-256 key; remove it to make a new one")
    return SigningKey(private_key, thumbprint(private_key.public_key()))


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    numbers = public_key.public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _create(path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        created = write_private(path, pem, replace=False)
    except OSError as exc:
        raise AuthFileError(f"cannot write the signing key {path}: {exc}") from exc
    if created:
        log.info("created a new signing key in %s", path)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
