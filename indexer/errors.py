"""The project's exceptions. Errors of aiokafka, opensearch-py and pydantic are
translated into these at the edges, with the cause chained.

    IndexerError
    ├── BadRecord           a record that can never be indexed: dead-letter it
    ├── TransientError      the outage of a dependency: back off and retry
    │   ├── KafkaUnavailable
    │   └── SearchUnavailable
    └── FatalError          a bug or bad configuration: stop loudly
        ├── ConfigurationError
        ├── StackError
        └── ReindexError
"""

from __future__ import annotations


class IndexerError(Exception):
    """Root of every error the indexer raises on purpose."""

    retriable: bool = False


class BadRecord(IndexerError):
    """A product record that cannot be indexed; ``code`` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(IndexerError):
    """A dependency is away or overloaded; the same call may succeed later."""

    retriable = True


class KafkaUnavailable(TransientError):
    """The Kafka cluster did not answer within its bound."""


class SearchUnavailable(TransientError):
    """OpenSearch did not answer, or answered 429 or 5xx."""


class FatalError(IndexerError):
    """Retrying cannot help: a bug or a bad configuration."""


class ConfigurationError(FatalError):
    """A setting or a file the indexer needs is wrong or missing."""


class StackError(FatalError):
    """The local Kafka or OpenSearch could not be fetched or started."""


class ReindexError(FatalError):
    """A reindex could not complete; the alias was left unchanged."""
