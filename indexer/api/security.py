"""Who may reindex what: a bearer token, a scope, and the tenant it is for."""

from __future__ import annotations

from starlette.requests import Request

from indexer.api.errors import ApiError
from indexer.auth import Principal, TokenMissing, TokenRejected, TokenVerifier


async def authenticate(request: Request, verifier: TokenVerifier) -> Principal:
    return await verifier.verify(bearer_token(request))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise TokenMissing("no Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("the Authorization header is not a bearer token")
    return token.strip()


def require_scope(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise ApiError(
            403, "Scope validation failed", [f"Missing required scopes '[{scope}]'"]
        )


def require_tenant(principal: Principal, tenant: str) -> None:
    if not principal.acts_for(tenant):
        raise ApiError(
            403,
            "Tenant validation failed",
            [f"The access token is not valid for tenant '{tenant}'"],
        )
