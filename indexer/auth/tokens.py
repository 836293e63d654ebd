"""Access tokens of the built-in issuer: ES256 JWTs, typed ``at+jwt`` (RFC 9068)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from indexer.auth.grants import Grant
from indexer.auth.keys import SigningKey
from indexer.settings import AuthSettings

JWT_TYPE = "at+jwt"
CLAIMS = (
    "iss",
    "sub",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "client_id",
    "tenant",
    "scope",
)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, no secret


class TokenIssuer:
    def __init__(self, key: SigningKey, settings: AuthSettings) -> None:
        self._key = key
        self._settings = settings

    def issue(self, grant: Grant) -> IssuedToken:
        now = int(time.time())
        lifetime = self._settings.token_lifetime_s
        claims = {
            "iss": self._settings.issuer,
            "sub": grant.client_id,
            "aud": self._settings.audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "client_id": grant.client_id,
            "tenant": grant.tenant,
            "scope": " ".join(grant.scopes),
        }
        token = jwt.encode(
            claims,
            self._key.private_key,
            algorithm=self._key.algorithm,
            headers={"kid": self._key.kid, "typ": JWT_TYPE},
        )
        return IssuedToken(access_token=token, expires_in=lifetime, scope=grant.scope)
