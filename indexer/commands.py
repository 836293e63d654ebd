"""Publishing reindex commands, for the API and for any other service.

from indexer.commands import request_reindex
command = await request_reindex(settings, "acme", requested_by="billing")
"""

from __future__ import annotations

from indexer.events import ReindexRequested
from indexer.kafka import Producer
from indexer.settings import Settings


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
