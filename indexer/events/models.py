"""Every event the indexer reads or writes, as pydantic models.

They are the source of the JSON Schemas in ``schemas/``. Fields are camelCase
on the wire, like the product documents; every event carries ``schemaVersion``
and a ``type`` that tells the models apart on a shared topic.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from indexer.events.keys import is_tenant

SCHEMA_VERSION: Literal[1] = 1


def _check_tenant(value: str) -> str:
    if not is_tenant(value):
        raise ValueError("a tenant is 3 to 16 of [a-z0-9], starting with a letter")
    return value


Tenant = Annotated[str, AfterValidator(_check_tenant)]


def _from_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("not base64") from exc
    return value


# Bytes kept exactly, carried as base64 text in JSON.
Raw = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )

    schema_version: Literal[1] = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class ReindexRequested(Model):
    """A command: rebuild the tenant's index from the changelog."""

    type: Literal["ReindexRequested"] = "ReindexRequested"
    command_id: str = Field(default_factory=new_id, min_length=1, max_length=128)
    tenant: Tenant
    mode: Literal["FULL"] = "FULL"
    requested_at: datetime = Field(default_factory=utcnow)
    requested_by: str = Field(default="unknown", max_length=256)


class ReindexStarted(Model):
    type: Literal["ReindexStarted"] = "ReindexStarted"
    tenant: Tenant
    command_ids: list[str]
    generation: str
    alias: str
    started_at: datetime


class ReindexCompleted(Model):
    type: Literal["ReindexCompleted"] = "ReindexCompleted"
    tenant: Tenant
    command_ids: list[str]
    generation: str
    alias: str
    indexed: int
    deleted: int
    rejected: int
    documents: int
    started_at: datetime
    completed_at: datetime
    duration_s: float


class ReindexFailed(Model):
    type: Literal["ReindexFailed"] = "ReindexFailed"
    tenant: Tenant
    command_ids: list[str]
    generation: str | None
    alias: str
    reason: str
    started_at: datetime
    failed_at: datetime


class ReindexProgress(Model):
    """How far the rewinds of a running build got, in changelog offsets.

    ``expected`` is what the rewinds must read: every home partition of the
    tenant (see :mod:`indexer.layout`) from its beginning to its end offset at
    build start, records of other tenants that share them included.
    ``processed`` is what they read of it so far; it equals ``expected`` once
    every partition is rewound.
    """

    type: Literal["ReindexProgress"] = "ReindexProgress"
    tenant: Tenant
    command_ids: list[str]
    generation: str
    processed: int = Field(ge=0)
    expected: int = Field(ge=0)
    reported_at: datetime = Field(default_factory=utcnow)


class DeadLetter(Model):
    """A product record that could not be indexed, with its original bytes."""

    type: Literal["DeadLetter"] = "DeadLetter"
    reason: str
    code: str
    tenant: str | None
    topic: str
    partition: int
    offset: int
    key: Raw | None
    value: Raw | None
    failed_at: datetime = Field(default_factory=utcnow)


IndexingEvent = Annotated[
    ReindexStarted | ReindexProgress | ReindexCompleted | ReindexFailed,
    Field(discriminator="type"),
]
INDEXING_EVENT: TypeAdapter[IndexingEvent] = TypeAdapter(IndexingEvent)
