"""Streaming product indexer: product changelogs on Kafka into OpenSearch.

What another service or an operator needs from Python:

    from indexer import Settings, request_reindex, reindex_and_wait
"""

from indexer.commands import reindex_and_wait, request_reindex
from indexer.events import (
    DeadLetter,
    ReindexCompleted,
    ReindexFailed,
    ReindexRequested,
    ReindexStarted,
)
from indexer.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "DeadLetter",
    "ReindexCompleted",
    "ReindexFailed",
    "ReindexRequested",
    "ReindexStarted",
    "Settings",
    "__version__",
    "reindex_and_wait",
    "request_reindex",
]
