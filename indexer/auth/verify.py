"""Bearer token verification: one key, one algorithm, every claim checked.

The algorithm list comes from configuration, never from the token, so neither
``alg: none`` nor an HMAC made with the public key can pass. ``exp``, ``nbf``
and ``iat`` are checked with ``leeway_s`` of clock skew.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from indexer.auth.errors import TokenExpired, TokenRejected
from indexer.auth.jwks import JwksKeys
from indexer.auth.keys import SigningKey
from indexer.auth.principal import Principal
from indexer.auth.scopes import parse_scope
from indexer.auth.tokens import CLAIMS, JWT_TYPE
from indexer.errors import ConfigurationError
from indexer.events import is_tenant
from indexer.settings import AuthSettings

log = logging.getLogger(__name__)

MAX_TOKEN_CHARACTERS = 8192
EXTERNAL_CLAIMS = ("iss", "aud", "exp", "iat")


class TokenVerifier(abc.ABC):
    @abc.abstractmethod
    async def verify(self, token: str) -> Principal:
        """The caller behind ``token``; ``TokenRejected`` when it proves nothing."""


class LocalVerifier(TokenVerifier):
    """Tokens of the built-in issuer, signed with its own key."""

    def __init__(self, key: SigningKey, settings: AuthSettings) -> None:
        self._key = key
        self._settings = settings

    async def verify(self, token: str) -> Principal:
        header, claims = decode(
            token,
            self._key.public_key,
            algorithms=[self._key.algorithm],
            issuer=self._settings.issuer,
            audience=self._settings.audience,
            leeway_s=self._settings.leeway_s,
            required=CLAIMS,
        )
        if header.get("typ") != JWT_TYPE:
            raise TokenRejected(f"the token is typed {header.get('typ')!r}")
        return _local_principal(claims)


class ExternalVerifier(TokenVerifier):
    """Tokens of an external issuer such as Keycloak.

    The client id is ``client_id``, ``azp`` or ``sub``; tenants come from a
    ``tenant`` claim (a string or a list) and from ``tenant=`` scope entries.
    """

    def __init__(self, settings: AuthSettings) -> None:
        if settings.external_issuer is None or settings.external_audience is None:
            raise ConfigurationError(
                "the external issuer and audience are not configured"
            )
        self._settings = settings
        self._issuer = settings.external_issuer
        self._audience = settings.external_audience
        self._static_key = _static_key(settings)
        self._jwks = (
            JwksKeys(
                settings.external_jwks_url,
                settings.jwks_cache_s,
                settings.jwks_timeout_s,
            )
            if settings.external_jwks_url is not None
            else None
        )

    async def verify(self, token: str) -> Principal:
        key = await self._key_for(token)
        _, claims = decode(
            token,
            key,
            algorithms=self._settings.external_algorithms,
            issuer=self._issuer,
            audience=self._audience,
            leeway_s=self._settings.leeway_s,
            required=EXTERNAL_CLAIMS,
        )
        return _external_principal(claims)

    async def _key_for(self, token: str) -> Any:
        if self._jwks is None:
            return self._static_key
        kid = _unverified_header(token).get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("the token's kid is not a string")
        return await self._jwks.key_for(kid)


def verifier_for(settings: AuthSettings, key: SigningKey | None) -> TokenVerifier:
    if settings.external:
        return ExternalVerifier(settings)
    if key is None:
        raise ConfigurationError("the built-in issuer needs its signing key")
    return LocalVerifier(key, settings)


def decode(
    token: str,
    key: Any,
    *,
    algorithms: Sequence[str],
    issuer: str,
    audience: str,
    leeway_s: float,
    required: Sequence[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verified header and claims of ``token``, PyJWT's errors translated."""
    if len(token) > MAX_TOKEN_CHARACTERS:
        raise TokenRejected("the token is too long")
    try:
        decoded = jwt.decode_complete(
            token,
            key,
            algorithms=list(algorithms),
            issuer=issuer,
            audience=audience,
            leeway=leeway_s,
            options={"require": list(required), "strict_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("the token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"the token failed {type(exc).__name__}") from exc
    return decoded["header"], decoded["payload"]


def _unverified_header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_CHARACTERS:
        raise TokenRejected("the token is too long")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"the token failed {type(exc).__name__}") from exc


def _static_key(settings: AuthSettings) -> Any:
    if settings.external_public_key is None:
        return None
    pem = settings.external_public_key.get_secret_value().encode()
    try:
        return serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ConfigurationError("external_public_key is not a PEM public key") from exc


def _local_principal(claims: dict[str, Any]) -> Principal:
    client_id, tenant, scope = claims["client_id"], claims["tenant"], claims["scope"]
    if not isinstance(client_id, str) or not isinstance(scope, str):
        raise TokenRejected("the token's client_id or scope is not a string")
    if not isinstance(tenant, str) or not is_tenant(tenant):
        raise TokenRejected("the token's tenant is not a tenant")
    if claims["sub"] != client_id:
        raise TokenRejected("the token's sub and client_id differ")
    return Principal(client_id, frozenset({tenant}), frozenset(scope.split()))


def _external_principal(claims: dict[str, Any]) -> Principal:
    client_id = claims.get("client_id") or claims.get("azp") or claims.get("sub")
    if not isinstance(client_id, str) or not client_id:
        raise TokenRejected("the token names no client (client_id, azp or sub)")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("the token's scope is not a string")

    request = parse_scope(scope)
    tenants = {*request.tenants, *_tenant_claim(claims.get("tenant"))}
    return Principal(
        client_id,
        frozenset(tenant for tenant in tenants if is_tenant(tenant)),
        frozenset(request.scopes),
    )


def _tenant_claim(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise TokenRejected("the token's tenant claim is neither a string nor a list")
