"""Event models, the changelog key and the JSON Schemas made from them."""

from indexer.events.keys import ProductKey, is_tenant
from indexer.events.models import (
    INDEXING_EVENT,
    SCHEMA_VERSION,
    DeadLetter,
    IndexingEvent,
    ReindexCompleted,
    ReindexFailed,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)

__all__ = [
    "INDEXING_EVENT",
    "SCHEMA_VERSION",
    "DeadLetter",
    "IndexingEvent",
    "ProductKey",
    "ReindexCompleted",
    "ReindexFailed",
    "ReindexProgress",
    "ReindexRequested",
    "ReindexStarted",
    "is_tenant",
]
