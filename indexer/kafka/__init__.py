"""Kafka at the edge: a durable producer and the project's topics."""

from indexer.kafka.admin import (
    TopicSpec,
    ensure_topics,
    partition_count,
    project_topics,
)
from indexer.kafka.producer import Producer

__all__ = [
    "Producer",
    "TopicSpec",
    "ensure_topics",
    "partition_count",
    "project_topics",
]
