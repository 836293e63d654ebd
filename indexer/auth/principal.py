"""Who is calling, as proven by a verified token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    client_id: str
    tenants: frozenset[str]
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def acts_for(self, tenant: str) -> bool:
        return tenant in self.tenants
