"""What a client gets from the token endpoint: one tenant and some scopes.

A client gets only what it is registered for. Without a ``tenant=`` entry the
client's only tenant is taken; without plain scopes, all of its scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.auth.clients import Client
from indexer.auth.errors import OAuthError
from indexer.auth.scopes import ScopeRequest, format_scope, parse_scope

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-separated.
SCOPE_TEXT = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$")
SHOWN_CHARACTERS = 64


@dataclass(frozen=True)
class Grant:
    client_id: str
    tenant: str
    scopes: tuple[str, ...]

    @property
    def scope(self) -> str:
        return format_scope(self.tenant, self.scopes)


def grant(client: Client, scope: str | None) -> Grant:
    """The grant for ``scope`` as requested; ``OAuthError`` when it asks too much."""
    request = _parse(scope)
    return Grant(
        client_id=client.client_id,
        tenant=_tenant(client, request),
        scopes=_scopes(client, request),
    )


def _parse(scope: str | None) -> ScopeRequest:
    if scope is None or scope == "":
        return ScopeRequest((), ())
    if not SCOPE_TEXT.fullmatch(scope):
        raise OAuthError(
            "invalid_scope", "the scope is not space-separated scope tokens"
        )
    return parse_scope(scope)


def _tenant(client: Client, request: ScopeRequest) -> str:
    if len(request.tenants) > 1:
        raise OAuthError("invalid_scope", "a token is for one tenant only")
    if not request.tenants:
        if len(client.tenants) != 1:
            raise OAuthError("invalid_scope", "name the tenant: scope=tenant=<tenant>")
        return client.tenants[0]
    tenant = request.tenants[0]
    if tenant not in client.tenants:
        shown = tenant[:SHOWN_CHARACTERS]
        raise OAuthError(
            "invalid_scope", f"tenant {shown!r} is not granted to this client"
        )
    return tenant


def _scopes(client: Client, request: ScopeRequest) -> tuple[str, ...]:
    if not request.scopes:
        return client.scopes
    refused = [scope for scope in request.scopes if scope not in client.scopes]
    if refused:
        shown = refused[0][:SHOWN_CHARACTERS]
        raise OAuthError(
            "invalid_scope", f"scope {shown!r} is not granted to this client"
        )
    return request.scopes
