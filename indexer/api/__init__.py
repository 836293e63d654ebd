"""The HTTP API: reindex commands in, durable on Kafka before the answer."""

from indexer.api.app import create_app
from indexer.api.publisher import CommandPublisher

__all__ = ["CommandPublisher", "create_app"]
