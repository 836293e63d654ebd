"""How far a consumer group is behind the end of a topic, partition by partition."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from indexer.errors import KafkaUnavailable
from indexer.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    beginning: int
    end: int
    # None: the group never committed an offset on this partition.
    committed: int | None

    @property
    def lag(self) -> int:
        """Records the group has still to read; all of them without a commit."""
        position = self.beginning if self.committed is None else self.committed
        return max(self.end - max(position, self.beginning), 0)


async def group_lag(settings: Settings, group: str, topic: str) -> list[PartitionLag]:
    """The lag of ``group`` on every partition of ``topic``; none without it."""
    bootstrap = settings.kafka.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await admin.start()
        if topic not in await admin.list_topics():
            return []
        partitions = await _partitions(admin, topic)
        committed = await admin.list_consumer_group_offsets(
            group, partitions=partitions
        )
        await consumer.start()
        beginnings = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    except KafkaError as exc:
        raise KafkaUnavailable(
            f"cannot read the lag of {group} on {topic}: {exc}"
        ) from exc
    finally:
        await consumer.stop()
        await admin.close()
    return [
        PartitionLag(
            partition=p.partition,
            beginning=beginnings[p],
            end=ends[p],
            committed=_offset(committed.get(p)),
        )
        for p in partitions
    ]


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    [described] = await admin.describe_topics([topic])
    numbers = sorted(p["partition"] for p in described.get("partitions") or [])
    return [TopicPartition(topic, number) for number in numbers]


def _offset(committed: object) -> int | None:
    offset = getattr(committed, "offset", -1)
    return offset if isinstance(offset, int) and offset >= 0 else None
