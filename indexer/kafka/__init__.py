"""Kafka at the edge: a durable producer and the project's topics."""

from indexer.kafka.admin import (
    TopicSpec,
    ensure_topics,
    partition_count,
    project_topics,
)
from indexer.kafka.lag import PartitionLag, group_lag
from indexer.kafka.producer import Producer

__all__ = [
    "PartitionLag",
    "Producer",
    "TopicSpec",
    "ensure_topics",
    "group_lag",
    "partition_count",
    "project_topics",
]
