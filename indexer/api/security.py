"""Who may reindex what: a bearer token, a scope, and the tenant it is for."""

from __future__ import annotations

from starlette.requests import Request

from indexer.api.errors import ApiError
from indexer.auth import (
    SEARCH_MANAGE,
    SEARCH_VIEW,
    Principal,
    TokenMissing,
    TokenRejected,
    TokenVerifier,
)
from indexer.events import is_tenant


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


def require_reader(principal: Principal) -> None:
    """Reading takes ``indexing.search_view``; managing includes it."""
    if not principal.has_scope(SEARCH_MANAGE):
        require_scope(principal, SEARCH_VIEW)


def path_tenant(request: Request) -> str:
    tenant: str = request.path_params["tenant"]
    if not is_tenant(tenant):
        raise ApiError(
            400,
            "Request was syntactically incorrect",
            ["tenant must be 3 to 16 of [a-z0-9], starting with a letter"],
        )
    return tenant
