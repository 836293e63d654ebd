"""Every worker's view of the build state topic, and the way to change it.

A plain aiokafka consumer with no group reads the single-partition compacted
topic from its beginning and follows it; writes are applied locally as soon as
Kafka acknowledged them, so a worker reads its own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from indexer.kafka import Producer
from indexer.worker.state import Build, ChangelogLayout, PartitionBuilt, Served

log = logging.getLogger(__name__)

State = Build | PartitionBuilt | Served | ChangelogLayout


class Registry:
    def __init__(self, bootstrap_servers: str, topic: str, producer: Producer):
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._producer = producer
        self.builds: dict[str, Build] = {}
        self.reports: dict[tuple[str, str], dict[int, PartitionBuilt]] = {}
        self.served: dict[str, Served] = {}
        self.layouts: dict[str, ChangelogLayout] = {}
        self.ready = asyncio.Event()
        # Set whenever a state record is applied; whoever waits on it clears it.
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Writes of this worker per key not yet read back from the topic.
        self._unread: dict[bytes, int] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="registry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def put(self, state: State) -> None:
        await self._producer.send(self._topic, state.to_bytes(), key=state.key)
        self._wrote(state.key)
        self._apply(state.key, state.to_bytes())

    async def remove(self, key: bytes) -> None:
        await self._producer.send(self._topic, None, key=key)
        self._wrote(key)
        self._apply(key, None)

    def received(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        """A record read from the topic.

        The echo of an own write that a later own write of the key replaced is
        skipped: applying it would undo the later one until its echo came, and
        a command joined to a build meanwhile would go unnamed at its end.
        """
        if key is not None and (unread := self._unread.get(key, 0)):
            if unread > 1:
                self._unread[key] = unread - 1
                return
            del self._unread[key]
        self._apply(key, value, offset)

    def _wrote(self, key: bytes) -> None:
        self._unread[key] = self._unread.get(key, 0) + 1

    def reports_of(self, build: Build) -> dict[int, PartitionBuilt]:
        return self.reports.get((build.tenant, build.generation), {})

    async def _follow(self) -> None:
        while True:
            try:
                await self._consume()
            except KafkaError:
                log.warning(
                    "build state topic %s unreachable, retrying in 1s",
                    self._topic,
                    extra={"topic": self._topic},
                )
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            partition = TopicPartition(self._topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            self._unread.clear()  # every record is read again, in order
            end = (await consumer.end_offsets([partition]))[partition]
            while True:
                batches = await consumer.getmany(partition, timeout_ms=500)
                for message in batches.get(partition, []):
                    self.received(message.key, message.value, message.offset)
                # Compaction leaves gaps: the position, not the last record's
                # offset, tells when the state read at start is complete.
                if (
                    not self.ready.is_set()
                    and await consumer.position(partition) >= end
                ):
                    self.ready.set()
        finally:
            await consumer.stop()

    def _apply(
        self, key: bytes | None, value: bytes | None, offset: int | None = None
    ) -> None:
        """Apply one state record: read at ``offset``, or put by this worker."""
        if key is None:
            return
        self.changed.set()
        kind, _, rest = key.decode().partition("/")
        try:
            if kind == "build":
                self._apply_build(rest, value)
            elif kind == "partition":
                self._apply_partition(rest, value)
            elif kind == "served" and value is not None:
                self.served[rest] = Served.model_validate_json(value)
            elif kind == "layout" and value is not None:
                self.layouts[rest] = ChangelogLayout.model_validate_json(value)
        except ValidationError:
            log.exception(
                "skipping an unreadable build state record %r at %s[0]@%s",
                key,
                self._topic,
                offset,
                extra={"topic": self._topic, "partition": 0, "offset": offset},
            )

    def _apply_build(self, tenant: str, value: bytes | None) -> None:
        if value is None:
            self.builds.pop(tenant, None)
            return
        self.builds[tenant] = Build.model_validate_json(value)

    def _apply_partition(self, rest: str, value: bytes | None) -> None:
        tenant, generation, partition = rest.split("/")
        reports = self.reports.setdefault((tenant, generation), {})
        if value is None:
            reports.pop(int(partition), None)
            if not reports:
                self.reports.pop((tenant, generation), None)
            return
        reports[int(partition)] = PartitionBuilt.model_validate_json(value)
