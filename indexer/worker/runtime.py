"""What the worker's agents call: indexing batches, commands, supervision.

Nothing raised here may leave an agent's loop: faust acks what a crashed agent
had taken, so every failure is retried here, dead-lettered with its record, or
logged with its coordinates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import TransportError

from indexer.errors import BadRecord, TransientError
from indexer.events import DeadLetter, ReindexCompleted, ReindexFailed
from indexer.events.models import Model
from indexer.kafka import Producer, partition_count
from indexer.metrics import WorkerMetrics
from indexer.search import Backoff, BulkWriter, Indexes, open_client
from indexer.search.bulk import TRANSIENT_STATUS
from indexer.settings import Settings
from indexer.worker.builder import Builder
from indexer.worker.positions import Positions
from indexer.worker.records import Record
from indexer.worker.registry import Registry
from indexer.worker.rewind import Rewinder
from indexer.worker.sink import Rejection, Sink, Target, Written
from indexer.worker.state import Tally

log = logging.getLogger(__name__)

# A batch failing for no transient reason is retried this often, then it is
# dead-lettered whole rather than stalling its partitions.
GIVE_UP_AFTER = 5
# The least time between two supervision passes, however often the state moves.
SUPERVISE_PAUSE_S = 0.02


@dataclass
class Runtime:
    settings: Settings
    changelog_partitions: Callable[[], set[int]]
    command_partitions: Callable[[], set[int]]
    started: asyncio.Event = field(default_factory=asyncio.Event)
    # (generation, partition, attempt) -> live writes to a build, as acknowledged.
    live_tallies: dict[tuple[str, int, int], Tally] = field(default_factory=dict)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    _known_tenants: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        worker = self.settings.worker
        self.client: AsyncOpenSearch = open_client(self.settings.opensearch)
        self.producer = Producer(self.settings.kafka, "worker")
        self.positions = Positions()
        self.indexes = Indexes(self.client, self.settings.opensearch)
        writer = BulkWriter(
            self.client,
            worker.batch_bytes,
            lambda: Backoff(worker.retry_initial_s, worker.retry_max_s),
            self.metrics,
            size=worker.bulk_size,
            concurrency=worker.bulk_concurrency,
        )
        self.sink = Sink(writer, worker.batch_bytes)
        self.registry = Registry(
            self.settings.kafka.bootstrap_servers,
            self.settings.topics.builds,
            self.producer,
        )
        self.builder = Builder(
            registry=self.registry,
            indexes=self.indexes,
            rewinder=Rewinder(
                topic=self.settings.topics.changelog,
                bootstrap_servers=self.settings.kafka.bootstrap_servers,
                sink=self.sink,
                positions=self.positions,
                batch_size=worker.rewind_batch_size,
                metrics=self.metrics,
            ),
            layout=self.settings.topics.layout,
            positions=self.positions,
            producer=self.producer,
            events_topic=self.settings.topics.events,
            changelog_partitions=self.changelog_partitions,
            command_partitions=self.command_partitions,
            live_tally=self._live_tally,
            published=self._observe,
        )

    async def start(self) -> None:
        topics = self.settings.topics
        partitions = await partition_count(
            self.settings.kafka.bootstrap_servers, topics.changelog
        )
        self.sink.expect(topics.layout, partitions)
        self.builder.partitions = partitions
        await self.producer.start()
        await self.registry.start()
        await self.registry.ready.wait()
        self.started.set()

    async def stop(self) -> None:
        await self.builder.stop()
        await self.registry.stop()
        await self.producer.stop()
        await self.client.close()

    async def index(self, records: Sequence[Record]) -> None:
        """Write a batch of changelog records; return only once all are settled."""
        await self.started.wait()
        for record in records:
            self.positions.take(record.partition, record.offset)
        backoff = self._backoff()
        while True:
            try:
                await self._index(records)
            except Exception as exc:
                if not _retriable(exc) and backoff.attempts >= GIVE_UP_AFTER:
                    await self._give_up(records, exc)
                    return
                _log_retry(records, exc, backoff)
                self.metrics.retried("batch")
                await backoff.wait()
            else:
                return

    async def _index(self, records: Sequence[Record]) -> None:
        written = await self.sink.write(records, self._route)
        if written.gone_aliases:
            self._known_tenants.clear()
            raise TransientError(f"aliases vanished: {sorted(written.gone_aliases)}")
        await self._dead_letter(written.rejections)
        self._count_live(written)
        self.metrics.documents("live", written.documents)
        self.metrics.changes_written((r.timestamp for r in records), time.time())

    async def command(self, record: Record) -> None:
        await self.started.wait()
        backoff = self._backoff()
        while True:
            try:
                await self.builder.handle(record)
            except Exception as exc:
                _log_retry([record], exc, backoff)
                self.metrics.retried("command")
                await backoff.wait()
            else:
                return

    async def supervising(self, every_s: float) -> None:
        """Supervise as soon as the build state changes, else every ``every_s``.

        A build begun or a partition rewound moves on at once, not at the next
        tick; the tick covers what changes elsewhere (ownership, the clock).
        """
        await self.started.wait()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.registry.changed.wait(), every_s)
            self.registry.changed.clear()
            await self.supervise()
            await asyncio.sleep(SUPERVISE_PAUSE_S)

    async def supervise(self) -> None:
        if not self.started.is_set():
            return
        try:
            await self._publish_live_tallies()
            await self.builder.supervise()
        except Exception:
            log.exception("supervising builds failed; the next pass retries")

    def revoked(self, partitions: set[int]) -> None:
        self.positions.forget(partitions)
        self.builder.revoked(partitions)

    async def _route(self, tenant: str, partition: int) -> list[Target]:
        alias = self.indexes.alias(tenant)
        if tenant not in self._known_tenants:
            await self.indexes.ensure_live(tenant)
            self._known_tenants.add(tenant)
        targets = [Target(alias, is_alias=True)]
        build = self.registry.builds.get(tenant)
        if build is not None and (
            (build.generation, partition) in self.positions.handed_off
            or partition in self.registry.reports_of(build)
        ):
            targets.append(Target(build.generation, is_alias=False))
        return targets

    def _live_tally(
        self, generation: str, partition: int, attempt: int
    ) -> Tally | None:
        """This worker's live writes to a build, fresher than the state topic's."""
        return self.live_tallies.get((generation, partition, attempt))

    def _count_live(self, written: Written) -> None:
        generations = {b.generation: b for b in self.registry.builds.values()}
        for (index, partition), tally in written.tallies.items():
            build = generations.get(index)
            if build is None:
                continue
            report = self.registry.reports_of(build).get(partition)
            base = report.live if report is not None else Tally()
            # A build attempted again may reuse its generation's name.
            key = (index, partition, build.attempt)
            self.live_tallies[key] = self.live_tallies.get(key, base).plus(tally)

    async def _publish_live_tallies(self) -> None:
        generations = {b.generation: b for b in self.registry.builds.values()}
        for (index, partition, attempt), tally in list(self.live_tallies.items()):
            build = generations.get(index)
            if build is None or build.attempt != attempt:
                del self.live_tallies[(index, partition, attempt)]
                continue
            report = self.registry.reports_of(build).get(partition)
            if report is not None and report.live != tally:
                await self.registry.put(report.model_copy(update={"live": tally}))

    def _observe(self, event: Model) -> None:
        """Reindex outcomes, once Kafka acknowledged their event."""
        if isinstance(event, ReindexCompleted):
            self.metrics.reindex_ended(event.tenant, "completed", event.duration_s)
        elif isinstance(event, ReindexFailed):
            seconds = (event.failed_at - event.started_at).total_seconds()
            self.metrics.reindex_ended(event.tenant, "failed", seconds)

    async def _dead_letter(self, rejections: list[Rejection]) -> None:
        counts: Counter[tuple[str | None, str]] = Counter()
        try:
            for rejection in rejections:
                await self._send_dead_letter(rejection)
                counts[(rejection.tenant, rejection.code)] += 1
        finally:
            self.metrics.dead_lettered(counts)

    async def _send_dead_letter(self, rejection: Rejection) -> None:
        record = rejection.record
        letter = DeadLetter(
            reason=rejection.reason,
            code=rejection.code,
            tenant=rejection.tenant,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
        )
        await self.producer.send(
            self.settings.topics.deadletter, letter.to_bytes(), key=record.key
        )
        log.warning(
            "dead-lettered %s[%d]@%d of tenant %s (%s): %s",
            record.topic,
            record.partition,
            record.offset,
            rejection.tenant,
            rejection.code,
            rejection.reason,
            extra={
                "tenant": rejection.tenant,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
        )

    async def _give_up(self, records: Sequence[Record], exc: Exception) -> None:
        """A batch that keeps failing on a bug goes to the dead-letter topic.

        Until the dead-letter topic took every record, nothing is acked.
        """
        first = records[0]
        log.error(
            "batch of %d records from %s[%d]@%d failed %d times, dead-lettering it: %r",
            len(records),
            first.topic,
            first.partition,
            first.offset,
            GIVE_UP_AFTER,
            exc,
            extra=_coordinates(first),
        )
        error = BadRecord("internal_error", f"{type(exc).__name__}: {exc}")
        rejections = [
            Rejection(record, None, error.code, error.message) for record in records
        ]
        backoff = self._backoff()
        while True:
            try:
                await self._dead_letter(rejections)
            except Exception as failure:
                _log_retry(records, failure, backoff)
                await backoff.wait()
            else:
                return

    def _backoff(self) -> Backoff:
        worker = self.settings.worker
        return Backoff(worker.retry_initial_s, worker.retry_max_s)


def _retriable(exc: Exception) -> bool:
    if isinstance(exc, TransientError | OSError | KafkaError | SearchConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, TransportError) and status in TRANSIENT_STATUS


def _log_retry(records: Sequence[Record], exc: Exception, backoff: Backoff) -> None:
    first = records[0]
    log.warning(
        "batch of %d records from %s[%d]@%d failed (%r); retry %d in %.1fs",
        len(records),
        first.topic,
        first.partition,
        first.offset,
        exc,
        backoff.attempts + 1,
        backoff.peek(),
        extra=_coordinates(first),
    )


def _coordinates(record: Record) -> dict[str, object]:
    """Where a batch begins; a batch spans tenants, so it names none."""
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
    }
