"""Settings of every process, read from ``INDEXER_*`` variables and a file.

Nested sections use ``__``: ``INDEXER_KAFKA__BOOTSTRAP_SERVERS``,
``INDEXER_OPENSEARCH__URL``. ``INDEXER_SETTINGS_FILE`` names an optional
dotenv-style file read before the environment (the environment wins).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.layout import Layout, Partitioning

TENANT_PATTERN = r"^[a-z][a-z0-9]+$"
TENANT_MIN_LENGTH = 3
TENANT_MAX_LENGTH = 16


def cache_home() -> Path:
    """Where downloads and the local stack live, outside any work tree."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "indexer"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "indexer"
    request_timeout_s: Annotated[float, Field(gt=0)] = 5.0


class TopicSettings(BaseModel):
    changelog: str = "products.changelog"
    commands: str = "indexing.commands"
    events: str = "indexing.events"
    deadletter: str = "products.deadletter"
    builds: str = "indexing.builds"
    changelog_partitions: Annotated[int, Field(ge=1)] = 48
    # How tenants spread over the changelog's partitions: see indexer.layout.
    changelog_partitioning: Partitioning = "tenant"
    changelog_spread: Annotated[int, Field(ge=1)] = 2
    commands_partitions: Annotated[int, Field(ge=1)] = 3
    replication_factor: Annotated[int, Field(ge=1)] = 1

    @property
    def layout(self) -> Layout:
        return Layout(self.changelog_partitioning, self.changelog_spread)


class OpenSearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None
    index_prefix: str = "products"
    shards: Annotated[int, Field(ge=1)] = 1
    replicas: Annotated[int, Field(ge=0)] = 0
    refresh_interval: str = "1s"
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0


class WorkerSettings(BaseModel):
    app_id: str = "indexer-worker"
    batch_size: Annotated[int, Field(ge=1)] = 1000
    batch_bytes: Annotated[int, Field(ge=1024)] = 5_000_000
    # Also how long the broker may hold a fetch: a minute at most.
    batch_within_s: Annotated[float, Field(gt=0, le=60)] = 0.02
    # The broker holds a fetch until this many bytes are there, or for
    # ``batch_within_s`` at most; a fetch carries at most 50 MiB.
    fetch_min_bytes: Annotated[int, Field(ge=1, le=52_428_800)] = 1_048_576
    # A rewind reads this many records at once; bulk requests carry at most
    # ``bulk_size`` operations and ``bulk_concurrency`` of a batch are in flight.
    rewind_batch_size: Annotated[int, Field(ge=1)] = 2000
    bulk_size: Annotated[int, Field(ge=1)] = 500
    bulk_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    retry_initial_s: Annotated[float, Field(gt=0)] = 0.2
    retry_max_s: Annotated[float, Field(gt=0)] = 10.0
    web_port: Annotated[int, Field(ge=1, le=65535)] = 6066
    data_dir: Path = Field(default_factory=lambda: cache_home() / "worker")


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    body_limit_bytes: Annotated[int, Field(ge=1)] = 1_000_000
    publish_timeout_s: Annotated[float, Field(gt=0)] = 5.0


class HealthSettings(BaseModel):
    """Readiness probes of the API and the worker."""

    timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0


# Asymmetric algorithms only: a symmetric one would let a public key sign tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


class AuthSettings(BaseModel):
    """The built-in token issuer, or the external issuer whose tokens the API takes.

    Setting ``external_issuer`` turns the built-in token endpoint off; the API then
    verifies the issuer's tokens with ``external_public_key`` (PEM) or the keys
    published at ``external_jwks_url``.
    """

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "indexing-service"
    token_lifetime_s: Annotated[int, Field(ge=60)] = 14399
    leeway_s: Annotated[int, Field(ge=0, le=300)] = 30
    clients_file: Path = Field(default_factory=lambda: cache_home() / "clients.json")
    signing_key_file: Path = Field(
        default_factory=lambda: cache_home() / "signing-key.pem"
    )
    external_issuer: str | None = None
    external_audience: str | None = None
    external_jwks_url: str | None = None
    external_public_key: SecretStr | None = None
    external_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    jwks_cache_s: Annotated[float, Field(gt=0)] = 300.0
    jwks_timeout_s: Annotated[float, Field(gt=0)] = 5.0

    @field_validator("clients_file", "signing_key_file")
    @classmethod
    def _expand_path(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("external_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused or not value:
            raise ValueError(
                f"external_algorithms takes RS*, PS* or ES* algorithms, not {refused}"
            )
        return value

    @model_validator(mode="after")
    def _external_complete(self) -> Self:
        if self.external_issuer is None:
            return self
        if self.external_audience is None:
            raise ValueError("external_issuer needs external_audience too")
        if (self.external_jwks_url is None) == (self.external_public_key is None):
            raise ValueError(
                "external_issuer needs one of external_jwks_url or external_public_key"
            )
        return self

    @property
    def external(self) -> bool:
        return self.external_issuer is not None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INDEXER_",
        env_nested_delimiter="__",
        env_file=os.environ.get("INDEXER_SETTINGS_FILE"),
        extra="ignore",
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    opensearch: OpenSearchSettings = Field(default_factory=OpenSearchSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    stack_home: Path = Field(default_factory=lambda: cache_home() / "stack")

    @field_validator("stack_home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()
