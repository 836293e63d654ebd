"""The changelog key: ``{tenant}/{product id}`` in UTF-8.

A tenant never contains ``/``, so the first ``/`` splits the key; the product
id may contain anything else, ``/`` included.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from indexer.errors import BadRecord
from indexer.settings import TENANT_MAX_LENGTH, TENANT_MIN_LENGTH, TENANT_PATTERN

_TENANT = re.compile(TENANT_PATTERN)
SEPARATOR = "/"


def is_tenant(value: str) -> bool:
    """Whether ``value`` may name a tenant (it becomes part of index names)."""
    return (
        TENANT_MIN_LENGTH <= len(value) <= TENANT_MAX_LENGTH
        and _TENANT.fullmatch(value) is not None
    )


class ProductKey(NamedTuple):
    tenant: str
    product_id: str

    def encode(self) -> bytes:
        return f"{self.tenant}{SEPARATOR}{self.product_id}".encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> ProductKey:
        if raw is None:
            raise BadRecord("missing_key", "the record has no key")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRecord("invalid_key", "the key is not UTF-8") from exc
        tenant, separator, product_id = text.partition(SEPARATOR)
        if not separator or not is_tenant(tenant):
            raise BadRecord(
                "invalid_key", f"the key {text[:80]!r} is not 'tenant/product-id'"
            )
        if not product_id:
            raise BadRecord("missing_id", "the key names no product id")
        return cls(tenant, product_id)
