"""Tokens of an external issuer (a Keycloak realm, say): public key and JWKS.

The JWKS is served by a small HTTP server this test starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from indexer.auth import (
    ExternalVerifier,
    IssuerUnavailable,
    TokenRejected,
)
from indexer.settings import AuthSettings, Settings
from tests.api.support import RecordingPublisher, running_api, with_auth

pytestmark = pytest.mark.asyncio

ISSUER = "http://127.0.0.1:8180/realms/shop"
AUDIENCE = "indexing-service"


@pytest.fixture(scope="module")
def realm_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


def keycloak_token(
    key: Any, kid: str | None = "realm-1", algorithm: str = "RS256", **changes: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "sub": "5f0c-service-account",
        "azp": "shop-indexer",
        "scope": "profile tenant=acme indexing.search_manage",
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def external_auth(
    auth_settings: AuthSettings, realm_key: rsa.RSAPrivateKey
) -> AuthSettings:
    return AuthSettings.model_validate(
        {
            **auth_settings.model_dump(),
            "external_issuer": ISSUER,
            "external_audience": AUDIENCE,
            "external_public_key": public_pem(realm_key),
        }
    )


async def test_public_key_mode_accepts_the_realm_token(
    external_auth: AuthSettings, realm_key: rsa.RSAPrivateKey
) -> None:
    principal = await ExternalVerifier(external_auth).verify(keycloak_token(realm_key))

    assert principal.client_id == "shop-indexer"
    assert principal.tenants == frozenset({"acme"})
    assert principal.scopes == frozenset({"profile", "indexing.search_manage"})


async def test_tenant_claim_adds_tenants(
    external_auth: AuthSettings, realm_key: rsa.RSAPrivateKey
) -> None:
    token = keycloak_token(
        realm_key, tenant=["beta", "gamma"], scope="indexing.search_manage"
    )

    principal = await ExternalVerifier(external_auth).verify(token)

    assert principal.tenants == frozenset({"beta", "gamma"})


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "http://127.0.0.1:8180/realms/other"},
        {"aud": "account"},
        {"exp": None},
        {"iat": None},
        {"azp": None, "sub": None},
        {"tenant": 42},
    ],
    ids=["issuer", "audience", "no-exp", "no-iat", "no-client", "bad-tenant"],
)
async def test_public_key_mode_checks_the_claims(
    external_auth: AuthSettings, realm_key: rsa.RSAPrivateKey, changes: dict[str, Any]
) -> None:
    with pytest.raises(TokenRejected):
        await ExternalVerifier(external_auth).verify(
            keycloak_token(realm_key, **changes)
        )


async def test_public_key_mode_takes_only_the_configured_algorithm(
    external_auth: AuthSettings, realm_key: rsa.RSAPrivateKey
) -> None:
    ps256 = keycloak_token(realm_key, algorithm="PS256")
    es256 = keycloak_token(ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")

    for token in (ps256, es256):
        with pytest.raises(TokenRejected):
            await ExternalVerifier(external_auth).verify(token)


async def test_external_mode_serves_realm_tokens_only(
    api_settings: Settings, realm_key: rsa.RSAPrivateKey, external_auth: AuthSettings
) -> None:
    settings = api_settings.model_copy(update={"auth": external_auth})
    recorder = RecordingPublisher(settings)

    async with running_api(settings, recorder) as api:
        accepted = await api.reindex("acme", keycloak_token(realm_key))
        other_tenant = await api.reindex("beta", keycloak_token(realm_key))
        token_endpoint = await api.client.post("/oauth/token", data={"a": "b"})
        document = (await api.client.get("/openapi.json")).json()

    assert accepted.status_code == 204
    assert [command.requested_by for command in recorder.commands] == ["shop-indexer"]
    assert other_tenant.status_code == 403
    assert token_endpoint.status_code == 404
    assert token_endpoint.json()["code"] == 404
    assert "/oauth/token" not in document["paths"]
    assert not external_auth.signing_key_file.exists()


async def test_built_in_tokens_do_not_pass_an_external_issuer(
    api_settings: Settings, external_auth: AuthSettings
) -> None:
    async with running_api(api_settings, RecordingPublisher(api_settings)) as own:
        own.register("billing")
        built_in = await own.token("billing")
    settings = api_settings.model_copy(update={"auth": external_auth})

    async with running_api(settings, RecordingPublisher(settings)) as api:
        response = await api.reindex("acme", built_in)

    assert response.status_code == 401


@dataclass
class Jwks:
    """A JWKS endpoint on 127.0.0.1 whose key set a test can change."""

    url: str
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: int = 0


@pytest.fixture
def jwks(realm_key: rsa.RSAPrivateKey) -> Iterator[Jwks]:
    served = Jwks(url="")
    served.document = {"keys": [_jwk(realm_key, "realm-1")]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            body = json.dumps(served.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/realms/shop/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def _jwks_auth(auth_settings: AuthSettings, url: str) -> AuthSettings:
    return AuthSettings.model_validate(
        {
            **auth_settings.model_dump(),
            "external_issuer": ISSUER,
            "external_audience": AUDIENCE,
            "external_jwks_url": url,
        }
    )


async def test_jwks_mode_fetches_once_and_caches(
    auth_settings: AuthSettings, jwks: Jwks, realm_key: rsa.RSAPrivateKey
) -> None:
    verifier = ExternalVerifier(_jwks_auth(auth_settings, jwks.url))

    first = await verifier.verify(keycloak_token(realm_key))
    second = await verifier.verify(keycloak_token(realm_key))

    assert first.client_id == second.client_id == "shop-indexer"
    assert jwks.requests == 1


async def test_jwks_mode_rejects_unknown_kids_and_keys_without_refetching(
    auth_settings: AuthSettings, jwks: Jwks, realm_key: rsa.RSAPrivateKey
) -> None:
    verifier = ExternalVerifier(_jwks_auth(auth_settings, jwks.url))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(TokenRejected):
        await verifier.verify(keycloak_token(realm_key, kid="rotated-away"))
    with pytest.raises(TokenRejected):
        await verifier.verify(keycloak_token(stranger))
    kidless = await verifier.verify(keycloak_token(realm_key, kid=None))

    assert kidless.client_id == "shop-indexer"
    assert jwks.requests == 1


async def test_jwks_mode_with_the_issuer_down_is_503(
    api_settings: Settings, realm_key: rsa.RSAPrivateKey
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = with_auth(
        api_settings,
        external_issuer=ISSUER,
        external_audience=AUDIENCE,
        external_jwks_url=f"http://127.0.0.1:{closed_port}/certs",
        jwks_timeout_s=1.0,
    )

    async with running_api(settings, RecordingPublisher(settings)) as api:
        response = await api.reindex("acme", keycloak_token(realm_key))

    assert response.status_code == 503
    assert response.json()["code"] == 503


async def test_jwks_outage_surfaces_as_issuer_unavailable(
    auth_settings: AuthSettings, realm_key: rsa.RSAPrivateKey
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    verifier = ExternalVerifier(
        _jwks_auth(auth_settings, f"http://127.0.0.1:{closed_port}/certs")
    )

    with pytest.raises(IssuerUnavailable):
        await verifier.verify(keycloak_token(realm_key))
