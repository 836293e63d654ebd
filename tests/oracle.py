"""The expected state of every tenant, computed from the records published.

Semantics the indexer promises: an upsert replaces the document unless the
indexed one has a higher ``metadata.version``; a tombstone deletes; a product
recreated after its delete starts afresh. Bad records change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def version(document: dict[str, Any]) -> int:
    metadata = document.get("metadata") or {}
    return int(metadata.get("version", 0))


@dataclass
class Oracle:
    state: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def upsert(self, tenant: str, document: dict[str, Any]) -> None:
        products = self.state.setdefault(tenant, {})
        current = products.get(document["id"])
        if current is None or version(document) >= version(current):
            products[document["id"]] = document

    def delete(self, tenant: str, product_id: str) -> None:
        self.state.setdefault(tenant, {}).pop(product_id, None)

    def of(self, tenant: str) -> dict[str, dict[str, Any]]:
        return self.state.get(tenant, {})
