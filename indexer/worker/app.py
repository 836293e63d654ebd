"""The faust application: two agents, a supervision timer, rebalance hooks.

- ``index`` reads the changelog in batches bounded by count and time, writes
  them through the runtime and acks each batch only after OpenSearch settled
  every record, so the committed offset never passes an unwritten record.
- ``command`` reads reindex commands, one at a time, acked once handled.
- ``supervise`` drives the builds: rewinds, verification, the alias swap.
- ``/health/live``, ``/health/ready`` and ``/metrics`` on faust's web server.

Acks are manual (``noack``): faust acks what a cancelled or crashed loop body
had taken, which would commit records that were never written.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import TP

from indexer.health import Probe
from indexer.settings import Settings
from indexer.worker.records import Record
from indexer.worker.runtime import Runtime
from indexer.worker.transport import App, Fetch
from indexer.worker.web import add_pages

log = logging.getLogger(__name__)

# Builds are supervised when their state changes, and at least this often.
SUPERVISE_EVERY_S = 0.5


def create_app(settings: Settings) -> tuple[Any, Runtime]:
    topics = settings.topics
    worker = settings.worker
    # faust's decorators are untyped for mypy's purposes: the app is Any here.
    app: Any = App(
        worker.app_id,
        fetch=Fetch(
            min_bytes=worker.fetch_min_bytes,
            max_wait_ms=max(1, round(1000 * worker.batch_within_s)),
        ),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store="memory://",
        datadir=str(worker.data_dir),
        web_enabled=True,
        web_bind="127.0.0.1",
        web_port=worker.web_port,
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_allow_declare=False,
        stream_buffer_maxsize=max(4096, 2 * worker.batch_size),
        broker_max_poll_records=worker.batch_size,
    )
    changelog = app.topic(
        topics.changelog, key_serializer="raw", value_serializer="raw"
    )
    commands = app.topic(topics.commands, key_serializer="raw", value_serializer="raw")

    def owned(topic: str) -> set[int]:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}

    runtime = Runtime(
        settings,
        changelog_partitions=lambda: owned(topics.changelog),
        command_partitions=lambda: owned(topics.commands),
    )

    probe = Probe(settings)
    add_pages(app, runtime, probe, settings.health.timeout_s)

    @app.agent(changelog, name="index")
    async def index(stream: Any) -> None:
        async for events in stream.noack_take(
            worker.batch_size, within=worker.batch_within_s
        ):
            await runtime.index([_record(event) for event in events])
            for event in events:
                await stream.ack(event)

    @app.agent(commands, name="command")
    async def command(stream: Any) -> None:
        async for event in stream.noack().events():
            await runtime.command(_record(event))
            await stream.ack(event)

    @app.task
    async def supervise() -> None:
        await runtime.supervising(SUPERVISE_EVERY_S)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
        log.info(
            "revoked partitions %s",
            sorted((tp.topic, tp.partition) for tp in revoked),
        )
        runtime.revoked(
            {tp.partition for tp in revoked if tp.topic == topics.changelog}
        )

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
        log.info(
            "assigned partitions %s",
            sorted((tp.topic, tp.partition) for tp in assigned),
        )

    @app.task
    async def start_runtime() -> None:
        await runtime.start()

    @app.on_before_shutdown.connect
    async def stop_runtime(sender: Any, **_: Any) -> None:
        await runtime.stop()
        await probe.close()

    return app, runtime


def _record(event: Any) -> Record:
    message = event.message
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp=message.timestamp,
    )
