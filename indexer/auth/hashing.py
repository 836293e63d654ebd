"""Client secrets stored as scrypt hashes, each with its own salt.

The parameters travel with the hash, so they can be raised later without
invalidating the secrets already issued.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

# RFC 7914 section 2 parameters: 16 MiB of memory, about 50 ms on one core.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
SECRET_BYTES = 32


@dataclass(frozen=True)
class SecretHash:
    salt: bytes
    digest: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": "scrypt",
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "salt": _b64(self.salt),
            "hash": _b64(self.digest),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SecretHash:
        if data.get("algorithm") != "scrypt":
            raise ValueError(f"unknown secret algorithm {data.get('algorithm')!r}")
        return cls(
            salt=base64.b64decode(data["salt"], validate=True),
            digest=base64.b64decode(data["hash"], validate=True),
            n=int(data["n"]),
            r=int(data["r"]),
            p=int(data["p"]),
        )


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str, salt: bytes | None = None) -> SecretHash:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    return SecretHash(
        salt=salt, digest=_scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    )


def verify_secret(secret: str, stored: SecretHash) -> bool:
    candidate = _scrypt(secret, stored.salt, stored.n, stored.r, stored.p)
    return hmac.compare_digest(candidate, stored.digest)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=HASH_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@functools.cache
def decoy() -> SecretHash:
    """Unknown clients are checked against this, so they cost as much as known ones."""
    return hash_secret(new_secret())
