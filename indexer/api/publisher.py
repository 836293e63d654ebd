"""Reindex commands onto Kafka, within a bound, with a producer that comes back.

The producer starts with the app, in the background; when Kafka is not there
the app serves anyway and each request starts it again, one attempt at a time.
An attempt runs as its own task, so a request that gives up never cancels it
halfway (which would leak the client it was starting). A producer that fails
rather than times out is discarded, and the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from indexer.commands import publish_command
from indexer.errors import KafkaUnavailable
from indexer.events import ReindexRequested
from indexer.kafka import Producer
from indexer.metrics import ApiMetrics
from indexer.settings import KafkaSettings, Settings

log = logging.getLogger(__name__)


ProducerFactory = Callable[[KafkaSettings, str], Producer]


class CommandPublisher:
    def __init__(
        self,
        settings: Settings,
        producer_factory: ProducerFactory = Producer,
        metrics: ApiMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics if metrics is not None else ApiMetrics()
        self._topic = settings.topics.commands
        self._timeout_s = settings.api.publish_timeout_s
        self._new_producer = producer_factory
        self._producer: Producer | None = None
        self._starting: asyncio.Task[Producer] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Begin starting the producer; the first request waits for it."""
        if self._producer is None and self._starting is None:
            self._attempt()

    async def stop(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(KafkaUnavailable):
                await starting
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
        if self._stopping:
            await asyncio.gather(*self._stopping)

    async def publish(self, command: ReindexRequested) -> None:
        """Return once Kafka acknowledged ``command``; ``KafkaUnavailable`` if not."""
        try:
            await self._publish(command)
        except KafkaUnavailable:
            self._metrics.publish_failures.inc()
            raise
        self._metrics.commands_published.inc()

    async def _publish(self, command: ReindexRequested) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        producer = await self._ready(self._timeout_s)

        remaining = deadline - loop.time()
        if remaining <= 0:
            raise KafkaUnavailable("the producer started too late to publish")
        try:
            async with asyncio.timeout(remaining):
                await publish_command(producer, self._topic, command, remaining)
        except TimeoutError as exc:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge on {self._topic} within {self._timeout_s}s"
            ) from exc
        except KafkaUnavailable as exc:
            if not isinstance(exc.__cause__, TimeoutError):
                self._discard(producer, exc)
            raise

    def _discard(self, producer: Producer, error: KafkaUnavailable) -> None:
        """Replace a producer that failed rather than timed out.

        aiokafka's sender can die for good (an idempotent producer's sequence
        lost across a broker restart, say); every later send then fails at once.
        """
        if self._producer is not producer:
            return
        self._producer = None
        log.warning(
            "discarding the producer of %s after %s: %s; the next request starts "
            "another",
            self._topic,
            type(error.__cause__).__name__,
            error,
            extra={"topic": self._topic},
        )
        task = asyncio.create_task(producer.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _ready(self, timeout_s: float) -> Producer:
        if self._producer is not None:
            return self._producer
        task = self._starting if self._starting is not None else self._attempt()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            raise KafkaUnavailable(f"Kafka did not answer within {timeout_s}s")
        return task.result()

    def _attempt(self) -> asyncio.Task[Producer]:
        task = self._starting = asyncio.create_task(self._start())
        task.add_done_callback(_retrieve_error)
        return task

    async def _start(self) -> Producer:
        producer = self._new_producer(self._settings.kafka, "api")
        try:
            await producer.start()
        finally:
            self._starting = None
        self._producer = producer
        log.info(
            "producer started for topic %s", self._topic, extra={"topic": self._topic}
        )
        return producer


def _retrieve_error(task: asyncio.Task[Producer]) -> None:
    """Record a failed attempt: the requests that waited may all have given up."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.info("the producer did not start; the next request retries: %s", error)
