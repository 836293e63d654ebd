"""Strict token verification: one key, one algorithm, every claim."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from indexer.auth import (
    LocalVerifier,
    SigningKey,
    TokenExpired,
    TokenRejected,
    load_or_create,
)
from indexer.auth.tokens import CLAIMS
from indexer.settings import AuthSettings

pytestmark = pytest.mark.asyncio


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_or_create(tmp_path / "key.pem")


@pytest.fixture
def verifier(key: SigningKey, auth_settings: AuthSettings) -> LocalVerifier:
    return LocalVerifier(key, auth_settings)


def claims_of(auth: AuthSettings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": auth.issuer,
        "sub": "billing",
        "aud": auth.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "client_id": "billing",
        "tenant": "acme",
        "scope": "indexing.search_manage",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers=headers)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """The classic confusion attack, built by hand: PyJWT refuses to make it."""
    secret = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(
        json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode()
    )
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


async def test_a_good_token_names_client_tenant_and_scopes(
    verifier: LocalVerifier, key: SigningKey, auth_settings: AuthSettings
) -> None:
    principal = await verifier.verify(sign(key, claims_of(auth_settings)))

    assert principal.client_id == "billing"
    assert principal.tenants == frozenset({"acme"})
    assert principal.has_scope("indexing.search_manage")
    assert principal.acts_for("acme")
    assert not principal.acts_for("beta")


async def test_alg_none_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    token = jwt.encode(
        claims_of(auth_settings),
        "",
        algorithm="none",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )

    with pytest.raises(TokenRejected):
        await verifier.verify(token)


async def test_hmac_with_the_public_key_as_secret_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    with pytest.raises(TokenRejected):
        await verifier.verify(_hs256_with_public_key(key, claims_of(auth_settings)))


async def test_another_key_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, tmp_path: Path
) -> None:
    other = load_or_create(tmp_path / "other.pem")

    with pytest.raises(TokenRejected):
        await verifier.verify(sign(other, claims_of(auth_settings)))


async def test_another_algorithm_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        claims_of(auth_settings),
        rsa_key,
        algorithm="RS256",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )

    with pytest.raises(TokenRejected):
        await verifier.verify(token)


async def test_p384_signature_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(
        claims_of(auth_settings),
        other,
        algorithm="ES384",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )

    with pytest.raises(TokenRejected):
        await verifier.verify(token)


async def test_tampered_payload_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    header, _, signature = sign(key, claims_of(auth_settings)).split(".")
    forged = _b64(json.dumps(claims_of(auth_settings, tenant="beta")).encode())

    with pytest.raises(TokenRejected):
        await verifier.verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "http://127.0.0.1:9999"},
        {"aud": "another-service"},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600},
        {"tenant": "ACME"},
        {"tenant": ["acme"]},
        {"scope": ["indexing.search_manage"]},
        {"client_id": "someone-else"},
    ],
    ids=[
        "issuer",
        "audience",
        "not-yet-valid",
        "issued-in-future",
        "bad-tenant",
        "tenant-list",
        "scope-list",
        "sub-differs",
    ],
)
async def test_wrong_claims_are_rejected(
    verifier: LocalVerifier,
    auth_settings: AuthSettings,
    key: SigningKey,
    changes: dict[str, Any],
) -> None:
    token = sign(key, claims_of(auth_settings, **changes))

    with pytest.raises(TokenRejected) as raised:
        await verifier.verify(token)
    assert not isinstance(raised.value, TokenExpired)


@pytest.mark.parametrize("claim", CLAIMS)
async def test_every_claim_is_required(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey, claim: str
) -> None:
    token = sign(key, claims_of(auth_settings, **{claim: None}))

    with pytest.raises(TokenRejected):
        await verifier.verify(token)


async def test_other_token_type_is_rejected(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    with pytest.raises(TokenRejected):
        await verifier.verify(sign(key, claims_of(auth_settings), typ="JWT"))


async def test_expired_token_says_so(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    past = int(time.time()) - auth_settings.leeway_s - 60
    token = sign(
        key, claims_of(auth_settings, iat=past - 600, nbf=past - 600, exp=past)
    )

    with pytest.raises(TokenExpired):
        await verifier.verify(token)


async def test_clock_skew_within_the_leeway_is_tolerated(
    verifier: LocalVerifier, auth_settings: AuthSettings, key: SigningKey
) -> None:
    now = int(time.time())
    skew = auth_settings.leeway_s // 2
    early = sign(key, claims_of(auth_settings, iat=now + skew, nbf=now + skew))
    late = sign(
        key, claims_of(auth_settings, iat=now - 900, nbf=now - 900, exp=now - skew)
    )

    assert (await verifier.verify(early)).client_id == "billing"
    assert (await verifier.verify(late)).client_id == "billing"


async def test_an_oversized_token_is_rejected_unparsed(verifier: LocalVerifier) -> None:
    with pytest.raises(TokenRejected, match="too long"):
        await verifier.verify("a" * 10_000)
