"""A durable producer: idempotent, acknowledged by all in-sync replicas.

``send`` returns only once the broker acknowledged the record, within a bound;
every aiokafka failure becomes :class:`KafkaUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from indexer.errors import KafkaUnavailable
from indexer.settings import KafkaSettings

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
# aiokafka's ``partitioner(key, all_partitions, available_partitions)``.
Partitioner = Callable[[bytes | None, list[int], list[int]], int]


class Producer:
    def __init__(
        self,
        settings: KafkaSettings,
        client_suffix: str = "producer",
        partitioner: Partitioner | None = None,
    ):
        self._settings = settings
        self._partitioner = partitioner
        self._client_id = f"{settings.client_id}-{client_suffix}"
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is not None:
            raise RuntimeError("the producer is already started")
        producer = AIOKafkaProducer(
            partitioner=self._partitioner or DefaultPartitioner(),
            bootstrap_servers=self._settings.bootstrap_servers,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            request_timeout_ms=int(self._settings.request_timeout_s * 1000),
        )
        try:
            await asyncio.wait_for(
                producer.start(), timeout=self._settings.request_timeout_s
            )
        except (KafkaError, TimeoutError, OSError) as exc:
            await producer.stop()
            raise KafkaUnavailable(
                f"Kafka at {self._settings.bootstrap_servers} did not answer: {exc}"
            ) from exc
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Headers | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, int]:
        """Send one record and wait for the acknowledgement: (partition, offset)."""
        if self._producer is None:
            raise RuntimeError("the producer is not started")
        bound = timeout_s or self._settings.request_timeout_s
        try:
            future = await self._producer.send(
                topic, value=value, key=key, headers=headers
            )
            metadata = await asyncio.wait_for(future, timeout=bound)
        except (KafkaError, TimeoutError, OSError) as exc:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge a record on {topic} within {bound}s"
            ) from exc
        return metadata.partition, metadata.offset

    async def send_many(
        self, topic: str, records: list[tuple[bytes | None, bytes | None]]
    ) -> None:
        """Send ``(key, value)`` records and wait until all are acknowledged."""
        if self._producer is None:
            raise RuntimeError("the producer is not started")
        try:
            futures = [
                await self._producer.send(topic, value=value, key=key)
                for key, value in records
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka refused records on {topic}") from exc
