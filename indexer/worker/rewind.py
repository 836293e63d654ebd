"""Rewinding one changelog partition into a tenant's new generation.

A plain aiokafka consumer with no group is assigned the partition, reads it
from the beginning and writes the tenant's records until it has caught up with
the live agent, then hands the partition over (see :mod:`positions`). It never
joins the worker's consumer group, so it cannot block a rebalance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from indexer.kafka.admin import partition_count
from indexer.metrics import WorkerMetrics
from indexer.worker.positions import Positions
from indexer.worker.progress import RewindProgress
from indexer.worker.records import Record
from indexer.worker.sink import Sink, Target, Written
from indexer.worker.state import Build, PartitionBuilt, Tally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rewinder:
    topic: str
    bootstrap_servers: str
    sink: Sink
    positions: Positions
    batch_size: int
    progress: RewindProgress = field(default_factory=RewindProgress)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)

    async def partition_count(self) -> int:
        return await partition_count(self.bootstrap_servers, self.topic)

    async def run(self, build: Build, partition: int) -> PartitionBuilt:
        if not build.reads(partition):
            return self._skip(build, partition)
        source = TopicPartition(self.topic, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        try:
            consumer.assign([source])
            await consumer.seek_to_beginning(source)
            tally, position = await self._copy(build, consumer, source)
        finally:
            await consumer.stop()

        log.info(
            "rewound %s[%d] into %s: %d records of tenant %s, handed off at %d",
            self.topic,
            partition,
            build.generation,
            tally.read,
            build.tenant,
            position,
            extra={
                "tenant": build.tenant,
                "topic": self.topic,
                "partition": partition,
                "offset": position,
                "index": build.generation,
            },
        )
        return PartitionBuilt(
            tenant=build.tenant,
            generation=build.generation,
            partition=partition,
            handoff_offset=position,
            rewind=tally,
        )

    def _skip(self, build: Build, partition: int) -> PartitionBuilt:
        """A partition off the tenant's homes: the layout keeps it free of them."""
        end = build.log_ranges[partition][1] if build.log_ranges else 0
        self.positions.hand_off(build.generation, partition)
        return PartitionBuilt(
            tenant=build.tenant,
            generation=build.generation,
            partition=partition,
            handoff_offset=end,
            rewind=Tally(),
        )

    async def _copy(
        self, build: Build, consumer: AIOKafkaConsumer, source: TopicPartition
    ) -> tuple[Tally, int]:
        prefix = f"{build.tenant}/".encode()
        targets = [Target(build.generation, is_alias=False)]

        async def route(tenant: str, partition: int) -> list[Target]:
            return targets

        # Everything published before the rewind began is written by the rewind
        # itself, so a completed build holds at least that, however far behind
        # the live agent is.
        floor = int((await consumer.end_offsets([source]))[source])
        tally = Tally()
        while True:
            batches = await consumer.getmany(
                source, timeout_ms=200, max_records=self.batch_size
            )
            records = [
                Record(m.topic, m.partition, m.offset, m.key, m.value)
                for m in batches.get(source, [])
                if m.key is not None and m.key.startswith(prefix)
            ]
            if records:
                written = await self.sink.write(records, route)
                self.metrics.documents("rewind", written.documents)
                tally = tally.plus(_tally(written, build.generation, source.partition))

            position = await consumer.position(source)
            self.progress.advance(build.generation, source.partition, position)
            log_end = await _log_end(consumer, source)
            if position >= floor and self.positions.try_hand_off(
                build.generation, source.partition, position, log_end
            ):
                return tally, position


def _tally(written: Written, generation: str, partition: int) -> Tally:
    """Outcomes in the generation, plus the records that could not be parsed."""
    unparsed = sum(1 for r in written.rejections if r.code != "mapping")
    counted = written.tallies.get((generation, partition), Tally())
    return counted.plus(Tally(read=unparsed, rejected=unparsed))


async def _log_end(consumer: AIOKafkaConsumer, source: TopicPartition) -> int:
    """The log end seen by the last fetch; no request unless none was made."""
    highwater = consumer.highwater(source)
    if highwater is not None:
        return int(highwater)
    return int((await consumer.end_offsets([source]))[source])
