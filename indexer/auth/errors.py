"""Errors of the auth package, under the project's tree.

    IndexerError
    ├── AuthError
    │   ├── TokenRejected       a bearer token the API must answer 401 to
    │   │   ├── TokenMissing    ... because there is none
    │   │   └── TokenExpired    ... because it expired
    │   ├── OAuthError          the token endpoint refuses (RFC 6749 section 5.2)
    │   └── RegistryError       a client cannot be added or removed as asked
    ├── TransientError
    │   └── IssuerUnavailable   the external issuer's keys could not be fetched
    └── FatalError
        └── ConfigurationError
            └── AuthFileError   the clients file or the signing key is unusable

Messages of ``TokenRejected`` are for logs; clients only ever see the fixed
gateway texts.
"""

from __future__ import annotations

from indexer.errors import ConfigurationError, IndexerError, TransientError


class AuthError(IndexerError):
    """Root of the refusals of the auth package."""


class TokenRejected(AuthError):
    """The token is missing, malformed, forged, or not ours to accept."""


class TokenMissing(TokenRejected):
    """The request carries no bearer token at all."""


class TokenExpired(TokenRejected):
    """The token was good but its ``exp`` has passed."""


class OAuthError(AuthError):
    """An error response of the token endpoint: ``error`` is the RFC 6749 code."""

    def __init__(self, error: str, description: str, basic_auth: bool = False):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.basic_auth = basic_auth

    @property
    def status_code(self) -> int:
        return 401 if self.error == "invalid_client" else 400


class RegistryError(AuthError):
    """A client registration asked for something impossible."""


class IssuerUnavailable(TransientError):
    """The external issuer's key set did not answer or made no sense."""


class AuthFileError(ConfigurationError):
    """The clients file or the signing key file cannot be read or written."""
