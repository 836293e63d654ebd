"""The worker's metrics: documents, bulk requests, retries, dead letters,
consumer lag and reindex builds.

Documents are counted per tenant and ``pipeline``: ``live`` for the index
agent's writes (to the alias), ``rewind`` for the writes that rebuild a
generation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from indexer.metrics.exposition import tenant_label

BULK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DELAY_BUCKETS = (
    *(0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75),
    *(1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
)
REINDEX_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# The kinds a batch's per-tenant counts come in; see Sink.
INDEXED, DELETED, REJECTED = "indexed", "deleted", "rejected"


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._documents = {
            kind: Counter(
                f"indexer_documents_{kind}",
                f"Documents {kind}, per tenant and pipeline (live or rewind).",
                ["tenant", "pipeline"],
                registry=self.registry,
            )
            for kind in (INDEXED, DELETED, REJECTED)
        }
        self._bulk_seconds = Histogram(
            "indexer_bulk_request_seconds",
            "Time OpenSearch took to answer a bulk request.",
            buckets=BULK_BUCKETS,
            registry=self.registry,
        )
        self._delay = Histogram(
            "indexer_change_delay_seconds",
            "Time from a change's Kafka timestamp to OpenSearch acknowledging its "
            "live write; it is searchable at the index's next refresh. Across "
            "machines, clock skew shifts it.",
            buckets=DELAY_BUCKETS,
            registry=self.registry,
        )
        self._bulk_bytes = Counter(
            "indexer_bulk_request_bytes",
            "Bytes of the bulk request bodies OpenSearch answered.",
            registry=self.registry,
        )
        self._retries = Counter(
            "indexer_retries",
            "Work sent again after a transient failure: bulk items, whole bulk "
            "requests, or changelog batches.",
            ["stage"],
            registry=self.registry,
        )
        self._dead_letters = Counter(
            "indexer_dead_letters",
            "Records written to the dead-letter topic, per tenant and reason code.",
            ["tenant", "code"],
            registry=self.registry,
        )
        self._lag = Gauge(
            "indexer_consumer_lag",
            "Records of a changelog partition after the last one the index agent "
            "took, at the last scrape.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self._reindex_seconds = Histogram(
            "indexer_reindex_duration_seconds",
            "Time from the start of a reindex build to its outcome.",
            ["outcome"],
            buckets=REINDEX_BUCKETS,
            registry=self.registry,
        )
        self._reindexes = Counter(
            "indexer_reindexes",
            "Reindex builds ended, per tenant and outcome (completed or failed).",
            ["tenant", "outcome"],
            registry=self.registry,
        )

    def documents(self, pipeline: str, counts: Mapping[tuple[str, str], int]) -> None:
        """Counts of one batch, keyed by (tenant, kind)."""
        for (tenant, kind), count in counts.items():
            self._documents[kind].labels(tenant_label(tenant), pipeline).inc(count)

    def bulk_answered(self, seconds: float, size: int) -> None:
        self._bulk_seconds.observe(seconds)
        self._bulk_bytes.inc(size)

    def changes_written(self, timestamps: Iterable[float | None], now: float) -> None:
        """The delay of each live change of a batch, once all are written."""
        for timestamp in timestamps:
            if timestamp is not None:
                self._delay.observe(max(0.0, now - timestamp))

    def retried(self, stage: str, count: int = 1) -> None:
        self._retries.labels(stage).inc(count)

    def dead_lettered(self, counts: Mapping[tuple[str | None, str], int]) -> None:
        """Counts of one batch, keyed by (tenant, code)."""
        for (tenant, code), count in counts.items():
            self._dead_letters.labels(tenant_label(tenant), code).inc(count)

    def lag(self, topic: str, lags: Mapping[int, int]) -> None:
        """Replaces every partition's gauge: revoked partitions disappear."""
        self._lag.clear()
        for partition, behind in lags.items():
            self._lag.labels(topic, str(partition)).set(behind)

    def reindex_ended(self, tenant: str, outcome: str, seconds: float) -> None:
        self._reindex_seconds.labels(outcome).observe(seconds)
        self._reindexes.labels(tenant_label(tenant), outcome).inc()
