"""The API's view of the jobs: ``indexing.commands`` and ``indexing.events``
read from their beginning at startup, then followed.

A plain aiokafka consumer with no group, like the workers' build registry: the
two topics are the only record of a job, so the view cannot disagree with the
events, and an API restarted anywhere rebuilds the same jobs. Commands the API
itself published are recorded at once, so a client reads its own writes; a
caller that must see what others wrote too waits for :meth:`JobView.synced`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from indexer.errors import KafkaUnavailable, TransientError
from indexer.events import INDEXING_EVENT, ReindexRequested
from indexer.jobs.book import Job, JobBook
from indexer.kafka import ensure_topics, partition_count, project_topics
from indexer.search import Backoff
from indexer.settings import Settings

log = logging.getLogger(__name__)

POLL_MS = 100
STOP_TIMEOUT_S = 10.0

T = TypeVar("T")


class JobViewBehind(TransientError):
    """The view did not read the job topics far enough in time."""


@dataclass
class _Barrier:
    """Callers waiting until the view has read the topics up to ``ends``."""

    ends: dict[TopicPartition, int]
    waiters: list[asyncio.Future[None]]


class JobView:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topics = (settings.topics.commands, settings.topics.events)
        self.book = JobBook()
        self.ready = asyncio.Event()
        self._positions: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._requests: list[asyncio.Future[None]] = []
        self._barriers: list[_Barrier] = []
        self._closing = asyncio.Event()
        self._polls = 0
        # aiokafka leaks the socket of a bootstrap it is cancelled in; the
        # follower is cancelled only while it polls or backs off.
        self._interruptible = False

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the job view is already started")
        self._task = asyncio.create_task(self._follow(), name="job-view")
        self._task.add_done_callback(_report_failure)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._closing.set()
        if self._interruptible:
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> JobView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def record(self, command: ReindexRequested) -> Job:
        """The job of a command this process published."""
        return self.book.command(command)

    async def caught_up(self, timeout_s: float) -> JobBook:
        """The book once it holds everything published before startup."""
        await self._within(self.ready.wait(), timeout_s)
        return self.book

    async def synced(self, timeout_s: float) -> JobBook:
        """The book once it holds everything on the topics at this call."""
        waiter = asyncio.get_running_loop().create_future()
        self._requests.append(waiter)
        await self._within(waiter, timeout_s)
        return self.book

    async def _within(self, step: Awaitable[object], timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await step
        except TimeoutError as exc:
            raise JobViewBehind(
                f"the job view did not read {' and '.join(self._topics)} "
                f"within {timeout_s}s"
            ) from exc

    async def _follow(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while not self._closing.is_set():
            polls = self._polls
            try:
                await self._consume()
            except (KafkaError, KafkaUnavailable, OSError) as exc:
                if self._polls != polls:
                    backoff = Backoff(0.5, 10.0)  # it was reading: a new outage
                log.warning(
                    "job view: Kafka unreachable (%s), retrying in %.1fs",
                    exc,
                    backoff.peek(),
                )
                await self._interruptibly(backoff.wait())

    async def _consume(self) -> None:
        partitions = await self._partitions()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        # Inside the try: a stop during start must close what start opened.
        try:
            await consumer.start()
            ends = await self._assign(consumer, partitions)
            while not self._closing.is_set():
                await self._poll(consumer)
                await self._settle(consumer, partitions)
                if not self.ready.is_set() and await _reached(consumer, ends):
                    log.info("job view: read %s to their end", self._topics)
                    self.ready.set()
        finally:
            await consumer.stop()

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        batches = await self._interruptibly(consumer.getmany(timeout_ms=POLL_MS))
        self._polls += 1
        for partition, records in batches.items():
            self._apply(records)
            self._positions[partition] = records[-1].offset + 1

    async def _settle(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> None:
        """Release the callers of :meth:`synced` whose ends were reached."""
        if self._requests:
            waiters, self._requests = self._requests, []
            ends = await consumer.end_offsets(partitions)
            self._barriers.append(_Barrier(ends, waiters))
        waiting = []
        for barrier in self._barriers:
            if not await _reached(consumer, barrier.ends):
                waiting.append(barrier)
                continue
            for waiter in barrier.waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._barriers = waiting

    async def _interruptibly(self, step: Awaitable[T]) -> T:
        self._interruptible = True
        try:
            return await step
        finally:
            self._interruptible = False

    async def _partitions(self) -> list[TopicPartition]:
        specs = [s for s in project_topics(self._settings) if s.name in self._topics]
        await ensure_topics(self._settings, specs)
        bootstrap = self._settings.kafka.bootstrap_servers
        return [
            TopicPartition(topic, partition)
            for topic in self._topics
            for partition in range(await partition_count(bootstrap, topic))
        ]

    async def _assign(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Resume where the last connection stopped; from the beginning at first."""
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        fresh = [p for p in partitions if p not in self._positions]
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        for partition in partitions:
            if partition in self._positions:
                consumer.seek(partition, self._positions[partition])
        return ends

    def _apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            if record.value is None:
                continue
            try:
                if record.topic == self._topics[0]:
                    self.book.command(
                        ReindexRequested.model_validate_json(record.value)
                    )
                else:
                    self.book.event(INDEXING_EVENT.validate_json(record.value))
            except ValidationError:
                log.warning(
                    "job view: skipping an unreadable record at %s[%d]@%d",
                    record.topic,
                    record.partition,
                    record.offset,
                    extra={
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                    },
                )


def _report_failure(task: asyncio.Task[None]) -> None:
    """A bug stopped the view: say so now, not at shutdown."""
    if task.cancelled() or task.exception() is None:
        return
    log.error(
        "job view stopped; the job endpoints answer 503 until a restart",
        exc_info=task.exception(),
    )


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
