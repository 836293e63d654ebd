"""How far a build's rewinds got, measured in changelog offsets.

A build records the (beginning, end) offsets of every changelog partition when
it begins: that is what its rewinds must read. Each rewind reports the position
it reached to :class:`RewindProgress`; a partition whose rewind was reported on
the build state topic counts as read in full.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from indexer.errors import KafkaUnavailable
from indexer.kafka import partition_count
from indexer.worker.state import Build


@dataclass
class RewindProgress:
    """The position each running rewind of this worker reached."""

    positions: dict[tuple[str, int], int] = field(default_factory=dict)

    def advance(self, generation: str, partition: int, position: int) -> None:
        self.positions[(generation, partition)] = position

    def position(self, generation: str, partition: int) -> int | None:
        return self.positions.get((generation, partition))

    def release(self, generation: str) -> None:
        self.positions = {
            key: offset
            for key, offset in self.positions.items()
            if key[0] != generation
        }


def expected(build: Build) -> int:
    return sum(end - start for start, end in build.log_ranges)


def processed(build: Build, rewound: Collection[int], progress: RewindProgress) -> int:
    """Offsets read so far: rewound partitions in full, running ones so far.

    TODO: a partition rewound by another worker counts only once that worker
    reports it done, so with several workers the figure moves in steps; the
    rewinds would have to publish their positions for a smooth one.
    """
    total = 0
    for partition, (start, end) in enumerate(build.log_ranges):
        if partition in rewound:
            total += end - start
            continue
        position = progress.position(build.generation, partition)
        if position is not None:
            total += min(max(position - start, 0), end - start)
    return total


async def log_ranges(bootstrap_servers: str, topic: str) -> list[tuple[int, int]]:
    """The (beginning, end) offsets of every partition of ``topic``, in order."""
    count = await partition_count(bootstrap_servers, topic)
    partitions = [TopicPartition(topic, p) for p in range(count)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False
    )
    try:
        await consumer.start()
        # Assigned partitions have their metadata loaded now; the offset
        # requests would otherwise wait out a retry backoff for it.
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot read the offsets of {topic}: {exc}") from exc
    finally:
        await consumer.stop()
    return [(int(starts[p]), int(ends[p])) for p in partitions]
