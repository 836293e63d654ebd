"""OpenSearch at the edge: mapping, index generations and bulk writes."""

from indexer.search.backoff import Backoff
from indexer.search.bulk import BulkWriter, Operation, Outcome, Result
from indexer.search.client import open_client
from indexer.search.indexes import Indexes
from indexer.search.mapping import MAPPING

__all__ = [
    "MAPPING",
    "Backoff",
    "BulkWriter",
    "Indexes",
    "Operation",
    "Outcome",
    "Result",
    "open_client",
]
