"""The streaming worker: continuous indexing and reindex builds."""

from indexer.worker.app import create_app

__all__ = ["create_app"]
