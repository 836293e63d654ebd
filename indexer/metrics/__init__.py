"""Prometheus metrics of the API and the worker, one registry per app.

Counters are incremented once per batch or request with counts summed by the
code that did the work, never once per document.
"""

from indexer.metrics.api import ApiMetrics
from indexer.metrics.exposition import CONTENT_TYPE, exposition
from indexer.metrics.worker import WorkerMetrics

__all__ = ["CONTENT_TYPE", "ApiMetrics", "WorkerMetrics", "exposition"]
