"""``POST /oauth/token``: the client credentials grant (RFC 6749 section 4.4).

Credentials come as form fields or as HTTP Basic (section 2.3.1), never both.
Checking a secret costs a scrypt, so it runs off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from indexer.api.body import form_fields, media_type, read_body
from indexer.api.responses import NO_STORE
from indexer.auth import ClientRegistry, OAuthError, TokenIssuer, grant

log = logging.getLogger(__name__)

GRANT_TYPE = "client_credentials"


class TokenEndpoint:
    def __init__(
        self, registry: ClientRegistry, issuer: TokenIssuer, body_limit: int
    ) -> None:
        self._registry = registry
        self._issuer = issuer
        self._body_limit = body_limit

    async def handle(self, request: Request) -> Response:
        body = await read_body(request, self._body_limit)
        fields = form_fields(body, media_type(request))
        _check_grant_type(fields.get("grant_type"))

        client_id, secret, basic = _credentials(request, fields)
        client = await asyncio.to_thread(self._registry.authenticate, client_id, secret)
        if client is None:
            raise OAuthError("invalid_client", "client authentication failed", basic)

        token = self._issuer.issue(grant(client, fields.get("scope")))
        log.info("issued a token to %s for scope %s", client.client_id, token.scope)
        content = {
            "access_token": token.access_token,
            "token_type": token.token_type,
            "expires_in": token.expires_in,
            "scope": token.scope,
        }
        return JSONResponse(content, headers=NO_STORE)


def _check_grant_type(grant_type: str | None) -> None:
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is missing")
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"only {GRANT_TYPE} is supported")


def _credentials(request: Request, fields: dict[str, str]) -> tuple[str, str, bool]:
    """``(client id, secret, whether Basic was used)`` from exactly one method."""
    header = request.headers.get("authorization")
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return *_form_credentials(fields), False

    if "client_secret" in fields:
        raise OAuthError("invalid_request", "use one client authentication method")
    client_id, secret = _basic_credentials(value.strip())
    if fields.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id differs from the Basic one")
    return client_id, secret, True


def _form_credentials(fields: dict[str, str]) -> tuple[str, str]:
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if client_id is None or secret is None:
        raise OAuthError("invalid_client", "client_id and client_secret are required")
    return client_id, secret


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "malformed Basic credentials", True) from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError("invalid_client", "malformed Basic credentials", True)
    return unquote_plus(client_id), unquote_plus(secret)
