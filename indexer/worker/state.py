"""The shared state of reindex builds, kept on a compacted topic.

Every worker reads the whole (small) topic and so sees every running build;
records are keyed so that compaction keeps only the latest state:

- ``build/{tenant}``: the build in progress, a tombstone once it ended;
- ``partition/{tenant}/{generation}/{p}``: one changelog partition rewound
  into the generation, with its counts;
- ``served/{tenant}``: the last command offset and ids a finished build served,
  so a replayed or duplicated command runs once;
- ``layout/{changelog}``: the layout the changelog was first indexed with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from indexer.events.models import Model, Tenant

SERVED_IDS_KEPT = 100


class Build(Model):
    type: Literal["Build"] = "Build"
    tenant: Tenant
    generation: str
    alias: str
    command_ids: list[str]
    command_partition: int
    command_offset: int
    partitions: int
    started_at: datetime
    attempt: int = 1
    # (beginning, end) offsets of each changelog partition when the attempt
    # began: what its rewinds must read, the measure of its progress.
    log_ranges: list[tuple[int, int]] = Field(default_factory=list)
    # The partitions that may hold the tenant's records; None: every one.
    homes: list[int] | None = None

    @property
    def key(self) -> bytes:
        return f"build/{self.tenant}".encode()

    def reads(self, partition: int) -> bool:
        """Whether the rewind of ``partition`` has records of the tenant to read."""
        return self.homes is None or partition in self.homes


class Tally(Model):
    """Item outcomes of writes to one generation from one partition."""

    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    not_found: int = 0
    stale: int = 0
    rejected: int = 0

    def plus(self, other: Tally) -> Tally:
        fields = type(self).model_fields
        return Tally(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in fields
                if name != "schema_version"
            }
        )

    @property
    def documents(self) -> int:
        return self.created - self.deleted


class PartitionBuilt(Model):
    type: Literal["PartitionBuilt"] = "PartitionBuilt"
    tenant: Tenant
    generation: str
    partition: int
    handoff_offset: int
    rewind: Tally
    live: Tally = Field(default_factory=Tally)

    @property
    def key(self) -> bytes:
        return f"partition/{self.tenant}/{self.generation}/{self.partition}".encode()


class Served(Model):
    type: Literal["Served"] = "Served"
    tenant: Tenant
    command_partition: int
    command_offset: int
    command_ids: list[str]
    generation: str | None
    ended_at: datetime

    @property
    def key(self) -> bytes:
        return f"served/{self.tenant}".encode()


class ChangelogLayout(Model):
    """How a changelog's records are placed; fixed once a worker indexed it."""

    type: Literal["ChangelogLayout"] = "ChangelogLayout"
    topic: str
    partitioning: str
    spread: int
    partitions: int

    @property
    def key(self) -> bytes:
        return f"layout/{self.topic}".encode()

    def describe(self) -> str:
        return (
            f"{self.partitioning} layout, spread {self.spread}, "
            f"{self.partitions} partitions"
        )
