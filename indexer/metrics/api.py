"""The API's metrics: requests by route and status, commands published."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "indexer_api_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "indexer_api_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.commands_published = Counter(
            "indexer_api_commands_published",
            "Reindex commands Kafka acknowledged.",
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "indexer_api_command_publish_failures",
            "Reindex commands Kafka did not acknowledge in time.",
            registry=self.registry,
        )

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)
