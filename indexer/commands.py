"""Publishing reindex commands and following their outcome.

Any service can do what the API does:

    from indexer.commands import request_reindex
    command = await request_reindex(settings, "acme", requested_by="billing")

or wait for the build to end:

    outcome = await reindex_and_wait(settings, "acme", timeout_s=600)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from indexer.errors import ReindexError
from indexer.events import (
    INDEXING_EVENT,
    IndexingEvent,
    ReindexCompleted,
    ReindexFailed,
    ReindexRequested,
)
from indexer.kafka import Producer, partition_count
from indexer.settings import Settings

log = logging.getLogger(__name__)

Outcome = ReindexCompleted | ReindexFailed
EventCallback = Callable[[IndexingEvent], None]


def _ignore(event: IndexingEvent) -> None:
    return None


async def publish_command(
    producer: Producer,
    topic: str,
    command: ReindexRequested,
    timeout_s: float | None = None,
) -> None:
    """Write the command keyed by tenant; returns once Kafka acknowledged it."""
    await producer.send(
        topic,
        value=command.to_bytes(),
        key=command.tenant.encode(),
        timeout_s=timeout_s,
    )


async def request_reindex(
    settings: Settings, tenant: str, requested_by: str = "indexer-cli"
) -> ReindexRequested:
    """Publish a FULL reindex command for ``tenant`` and return it."""
    command = ReindexRequested(tenant=tenant, requested_by=requested_by)
    async with Producer(settings.kafka, "commands") as producer:
        await publish_command(producer, settings.topics.commands, command)
    return command


async def reindex_and_wait(
    settings: Settings,
    tenant: str,
    timeout_s: float,
    requested_by: str = "indexer-cli",
    on_event: EventCallback = _ignore,
) -> Outcome:
    """Publish a command and return the event that ends its build.

    ``on_event`` sees every event about the command on the way, progress too.
    """
    async with EventFollower(settings) as events:
        command = await request_reindex(settings, tenant, requested_by)
        return await events.outcome(command.command_id, timeout_s, on_event)


class EventFollower:
    """Reads ``indexing.events`` from the moment it was entered."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topics.events
        self._bootstrap = settings.kafka.bootstrap_servers
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> EventFollower:
        await self._consumer.start()
        try:
            count = await partition_count(self._bootstrap, self._topic)
            assigned = [TopicPartition(self._topic, p) for p in range(count)]
            self._consumer.assign(assigned)
            ends = await self._consumer.end_offsets(assigned)
        except BaseException:
            await self._consumer.stop()
            raise
        for partition, offset in ends.items():
            self._consumer.seek(partition, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def next_events(self, timeout_s: float) -> list[IndexingEvent]:
        batches = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000))
        events = []
        for messages in batches.values():
            for message in messages:
                try:
                    events.append(INDEXING_EVENT.validate_json(message.value))
                except ValidationError:
                    log.warning(
                        "skipping an unknown event at offset %d", message.offset
                    )
        return events

    async def outcome(
        self, command_id: str, timeout_s: float, on_event: EventCallback = _ignore
    ) -> Outcome:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            for event in await self.next_events(min(left, 1.0)):
                if command_id not in event.command_ids:
                    continue
                on_event(event)
                if isinstance(event, ReindexCompleted | ReindexFailed):
                    return event
        raise ReindexError(f"no outcome for command {command_id} in {timeout_s}s")
