"""The Prometheus text format of a registry, and label values safe to use."""

from __future__ import annotations

import re

from prometheus_client import (
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from indexer.settings import TENANT_MAX_LENGTH, TENANT_PATTERN

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
UNKNOWN = "unknown"
_TENANT = re.compile(TENANT_PATTERN)

# The library's switch is process-wide: a ``_created`` timestamp beside every
# counter and histogram doubles the scrape and tells Prometheus nothing it uses.
disable_created_metrics()  # type: ignore[no-untyped-call]


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def tenant_label(tenant: str | None) -> str:
    """A tenant as a label value; a bad record's key could name anything."""
    if tenant is None or len(tenant) > TENANT_MAX_LENGTH:
        return UNKNOWN
    return tenant if _TENANT.match(tenant) else UNKNOWN
