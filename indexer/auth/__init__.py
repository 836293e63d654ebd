"""OAuth2 client credentials: registered clients, token issuance, verification."""

from indexer.auth.clients import Client, ClientRegistry
from indexer.auth.errors import (
    AuthError,
    AuthFileError,
    IssuerUnavailable,
    OAuthError,
    RegistryError,
    TokenExpired,
    TokenMissing,
    TokenRejected,
)
from indexer.auth.grants import Grant, grant
from indexer.auth.keys import SigningKey, load_or_create
from indexer.auth.principal import Principal
from indexer.auth.scopes import KNOWN_SCOPES, SEARCH_MANAGE, SEARCH_VIEW
from indexer.auth.tokens import IssuedToken, TokenIssuer
from indexer.auth.verify import (
    ExternalVerifier,
    LocalVerifier,
    TokenVerifier,
    verifier_for,
)

__all__ = [
    "KNOWN_SCOPES",
    "SEARCH_MANAGE",
    "SEARCH_VIEW",
    "AuthError",
    "AuthFileError",
    "Client",
    "ClientRegistry",
    "ExternalVerifier",
    "Grant",
    "IssuedToken",
    "IssuerUnavailable",
    "LocalVerifier",
    "OAuthError",
    "Principal",
    "RegistryError",
    "SigningKey",
    "TokenExpired",
    "TokenIssuer",
    "TokenMissing",
    "TokenRejected",
    "TokenVerifier",
    "grant",
    "load_or_create",
    "verifier_for",
]
