"""Scopes as the platform writes them: ``tenant=acme indexing.search_manage``.

A ``tenant=`` entry names the tenant a token acts for; every other entry is a
plain scope.
"""

from __future__ import annotations

from dataclasses import dataclass

SEARCH_VIEW = "indexing.search_view"
SEARCH_MANAGE = "indexing.search_manage"
KNOWN_SCOPES = frozenset({SEARCH_VIEW, SEARCH_MANAGE})

TENANT_PREFIX = "tenant="


@dataclass(frozen=True)
class ScopeRequest:
    """A ``scope`` string split into tenants and plain scopes, order kept."""

    tenants: tuple[str, ...]
    scopes: tuple[str, ...]


def parse_scope(text: str) -> ScopeRequest:
    tenants: list[str] = []
    scopes: list[str] = []
    for entry in text.split():
        if entry.startswith(TENANT_PREFIX):
            tenants.append(entry.removeprefix(TENANT_PREFIX))
        else:
            scopes.append(entry)
    return ScopeRequest(tuple(dict.fromkeys(tenants)), tuple(dict.fromkeys(scopes)))


def format_scope(tenant: str | None, scopes: tuple[str, ...]) -> str:
    entries = [f"{TENANT_PREFIX}{tenant}"] if tenant is not None else []
    return " ".join([*entries, *scopes])
