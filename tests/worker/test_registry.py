"""The build state a worker keeps: its own writes are never undone by their echoes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexer.kafka import Producer
from indexer.settings import KafkaSettings
from indexer.worker.registry import Registry
from indexer.worker.state import Build

pytestmark = pytest.mark.asyncio


class SentProducer(Producer):
    """Keeps what it is given to send, as if Kafka acknowledged it at once."""

    def __init__(self) -> None:
        super().__init__(KafkaSettings(), "tests")
        self.sent: list[tuple[bytes | None, bytes | None]] = []

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None = None
    ) -> None:
        self.sent.append((key, value))


def build(*command_ids: str) -> Build:
    return Build(
        tenant="acme",
        generation="products-acme-000002",
        alias="products-acme",
        command_ids=list(command_ids),
        command_partition=0,
        command_offset=len(command_ids),
        partitions=6,
        started_at=datetime.now(UTC),
    )


async def test_the_echo_of_an_older_write_does_not_undo_a_newer_one() -> None:
    producer = SentProducer()
    registry = Registry("127.0.0.1:9", "builds", producer)
    await registry.put(build("first"))
    await registry.put(build("first", "joined"))

    (key, first), (_, joined) = producer.sent
    registry.received(key, first, 0)
    assert registry.builds["acme"].command_ids == ["first", "joined"]
    registry.received(key, joined, 1)
    assert registry.builds["acme"].command_ids == ["first", "joined"]


async def test_writes_of_other_workers_are_applied() -> None:
    registry = Registry("127.0.0.1:9", "builds", SentProducer())
    record = build("elsewhere")

    registry.received(record.key, record.to_bytes(), 0)

    assert registry.builds["acme"].command_ids == ["elsewhere"]
