"""Reindex builds: commands in, generations built, aliases swapped, events out.

The worker that owns a tenant's command partition coordinates its build: it
creates the generation, records the build on the state topic, and once every
changelog partition has been rewound it verifies the count, swaps the alias
and publishes the outcome. Every worker rewinds the changelog partitions it
owns, so the single writer of a key is always the owner of its partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from indexer.errors import KafkaUnavailable, ReindexError
from indexer.events import (
    ReindexCompleted,
    ReindexFailed,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)
from indexer.events.models import Model
from indexer.kafka import Producer
from indexer.layout import Layout
from indexer.search import Indexes
from indexer.worker.positions import Positions
from indexer.worker.progress import expected, log_ranges, processed
from indexer.worker.records import Record
from indexer.worker.registry import Registry
from indexer.worker.rewind import Rewinder
from indexer.worker.state import SERVED_IDS_KEPT, Build, Served, Tally

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0
VERIFY_ATTEMPTS = 30
VERIFY_PAUSE_S = 0.3


def _ignore(event: Model) -> None:
    return None


def _no_tally(generation: str, partition: int, attempt: int) -> Tally | None:
    return None


@dataclass
class Builder:
    registry: Registry
    indexes: Indexes
    rewinder: Rewinder
    positions: Positions
    producer: Producer
    events_topic: str
    changelog_partitions: Callable[[], set[int]]
    command_partitions: Callable[[], set[int]]
    layout: Layout = field(default_factory=Layout)
    # The changelog's partition count the layout placed records for, once known.
    partitions: int | None = None
    build_timeout_s: float = 3600.0
    # Called with every event once Kafka acknowledged it.
    published: Callable[[Model], None] = _ignore
    # This worker's live writes to a build's generation from one partition,
    # acknowledged but perhaps not yet on the state topic.
    live_tally: Callable[[str, int, int], Tally | None] = _no_tally
    reported: dict[str, float] = field(default_factory=dict)
    max_attempts: int = 3
    rewinds: dict[tuple[str, int], asyncio.Task[None]] = field(default_factory=dict)
    finishing: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Per tenant: a command joins a build, or a build ends, never both at once.
    locks: defaultdict[str, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )

    async def handle(self, record: Record) -> None:
        """Take one command: start a build, join the running one, or skip it."""
        command = _command(record)
        if command is None:
            return
        async with self.locks[command.tenant]:
            await self._take(command, record)

    async def _take(self, command: ReindexRequested, record: Record) -> None:
        context = {
            "tenant": command.tenant,
            "command_id": command.command_id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }
        if self._served(command, record):
            log.info(
                "command %s for %s was already served",
                command.command_id,
                command.tenant,
                extra=context,
            )
            return
        build = self.registry.builds.get(command.tenant)
        if build is not None:
            await self._join(build, command, record)
            log.info(
                "command %s joined the build of %s",
                command.command_id,
                build.generation,
                extra=context,
            )
            return
        await self._start(command, record)

    def _served(self, command: ReindexRequested, record: Record) -> bool:
        served = self.registry.served.get(command.tenant)
        if served is None:
            return False
        replayed = (
            record.partition == served.command_partition
            and record.offset <= served.command_offset
        )
        return replayed or command.command_id in served.command_ids

    async def _join(
        self, build: Build, command: ReindexRequested, record: Record
    ) -> None:
        if command.command_id in build.command_ids:
            return
        joined = build.model_copy(
            update={
                "command_ids": [*build.command_ids, command.command_id],
                "command_offset": max(build.command_offset, record.offset),
            }
        )
        await self.registry.put(joined)

    async def _start(self, command: ReindexRequested, record: Record) -> None:
        plan = Build(
            tenant=command.tenant,
            generation="",
            alias=self.indexes.alias(command.tenant),
            command_ids=[command.command_id],
            command_partition=record.partition,
            command_offset=record.offset,
            partitions=0,
            started_at=datetime.now(UTC),
        )
        problem = await self._layout_problem()
        if problem is not None:
            await self._publish_failed(plan, problem)
            log.error(
                "reindex of %s refused, the alias is unchanged: %s",
                plan.tenant,
                problem,
                extra={"tenant": plan.tenant, "command_id": command.command_id},
            )
            return
        await self._begin(plan)

    async def _layout_problem(self) -> str | None:
        """Why the changelog cannot be rebuilt as it is now, if it cannot."""
        partitions = await self.rewinder.partition_count()
        if self.partitions is None or partitions == self.partitions:
            return None
        return (
            f"the changelog {self.rewinder.topic} has {partitions} partitions, "
            f"but its records were placed for {self.partitions}: a reindex "
            "would miss most of them. Publish to a new changelog and replay "
            "into it."
        )

    async def _begin(self, plan: Build) -> None:
        """Create the generation, record the build, tell the listeners."""
        ranges = await log_ranges(self.rewinder.bootstrap_servers, self.rewinder.topic)
        partitions = len(ranges)
        homes = self.layout.homes(plan.tenant, partitions)
        build = plan.model_copy(
            update={
                "generation": await self.indexes.create(plan.tenant, building=True),
                "partitions": partitions,
                "homes": homes,
                # Partitions without the tenant's records have nothing to read.
                "log_ranges": [
                    (start, end) if p in homes else (end, end)
                    for p, (start, end) in enumerate(ranges)
                ],
                "started_at": datetime.now(UTC),
            }
        )
        await self.registry.put(build)
        await self._publish(
            ReindexStarted(
                tenant=build.tenant,
                command_ids=build.command_ids,
                generation=build.generation,
                alias=build.alias,
                started_at=build.started_at,
            )
        )
        log.info(
            "reindex of %s started into %s (attempt %d)",
            build.tenant,
            build.generation,
            build.attempt,
            extra={"tenant": build.tenant, "index": build.generation},
        )

    async def supervise(self) -> None:
        """One pass: start missing rewinds, finish or fail the builds we own."""
        self._reap_rewinds()
        self.finishing = {
            t: task for t, task in self.finishing.items() if not task.done()
        }
        for build in list(self.registry.builds.values()):
            self._start_rewinds(build)
            owned = build.command_partition in self.command_partitions()
            if owned and build.tenant not in self.finishing:
                self.finishing[build.tenant] = asyncio.create_task(
                    self._advance(build), name=f"advance-{build.generation}"
                )

    def _reap_rewinds(self) -> None:
        owned = self.changelog_partitions()
        for (generation, partition), task in list(self.rewinds.items()):
            active = any(
                b.generation == generation for b in self.registry.builds.values()
            )
            if task.done() or not active or partition not in owned:
                task.cancel()
                del self.rewinds[(generation, partition)]

    def revoked(self, partitions: set[int]) -> None:
        """Stop rewinding partitions another worker owns from now on."""
        for (generation, partition), task in list(self.rewinds.items()):
            if partition in partitions:
                task.cancel()
                del self.rewinds[(generation, partition)]

    def _start_rewinds(self, build: Build) -> None:
        reported = self.registry.reports_of(build)
        for partition in self.changelog_partitions():
            key = (build.generation, partition)
            if partition in reported or key in self.rewinds:
                continue
            self.rewinds[key] = asyncio.create_task(
                self._rewind(build, partition),
                name=f"rewind-{build.generation}-{partition}",
            )

    async def _rewind(self, build: Build, partition: int) -> None:
        try:
            report = await self.rewinder.run(build, partition)
            await self.registry.put(report)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "rewind of partition %d into %s failed; it restarts",
                partition,
                build.generation,
                extra={
                    "tenant": build.tenant,
                    "partition": partition,
                    "index": build.generation,
                },
            )

    async def _advance(self, build: Build) -> None:
        elapsed = (datetime.now(UTC) - build.started_at).total_seconds()
        if elapsed > self.build_timeout_s:
            await self._fail(build, f"the build took over {self.build_timeout_s}s")
            return
        rewound = len(self.registry.reports_of(build)) >= build.partitions
        await self._report_progress(build, final=rewound)
        if not rewound:
            return
        try:
            await self._finish(build)
        except ReindexError as exc:
            await self._retry(build, str(exc))
        except Exception:
            log.warning(
                "finishing %s failed transiently; retrying",
                build.generation,
                exc_info=True,
                extra={"tenant": build.tenant, "index": build.generation},
            )

    async def _report_progress(self, build: Build, final: bool) -> None:
        """Each second while rewinding, and when every partition is rewound."""
        now = asyncio.get_running_loop().time()
        last = self.reported.get(build.generation)
        if not final and last is not None and now - last < PROGRESS_EVERY_S:
            return
        self.reported[build.generation] = now
        rewound = self.registry.reports_of(build)
        event = ReindexProgress(
            tenant=build.tenant,
            command_ids=build.command_ids,
            generation=build.generation,
            processed=processed(build, rewound, self.rewinder.progress),
            expected=expected(build),
        )
        try:
            await self._publish(event)
        except KafkaUnavailable as exc:
            log.warning(
                "progress of %s not published, the next pass retries: %s",
                build.generation,
                exc,
                extra={"tenant": build.tenant, "index": build.generation},
            )

    async def _finish(self, build: Build) -> None:
        tally = await self._verify(build)
        previous = await self.indexes.publish(build.tenant, build.generation)
        documents = await self.indexes.count(build.generation)
        async with self.locks[build.tenant]:
            build = self._current(build)
            await self._publish_completed(build, tally, documents)
        log.info(
            "reindex of %s completed: %s is live with %d documents",
            build.tenant,
            build.generation,
            documents,
            extra={"tenant": build.tenant, "index": build.generation},
        )
        # Listeners hear of the swap first: dropping indexes is slow, and a
        # generation left behind is dropped by the tenant's next reindex.
        await self._prune(
            build, {build.generation} | ({previous} if previous else set())
        )

    async def _prune(self, build: Build, keep: set[str]) -> None:
        try:
            dropped = await self.indexes.prune(build.tenant, keep)
        except Exception:
            log.warning(
                "could not drop the old generations of %s; its next reindex will",
                build.tenant,
                exc_info=True,
                extra={"tenant": build.tenant, "index": build.generation},
            )
            return
        log.info(
            "dropped the old generations %s of %s",
            dropped,
            build.tenant,
            extra={"tenant": build.tenant, "index": build.generation},
        )

    def _current(self, build: Build) -> Build:
        """The build as recorded now: commands may have joined since."""
        latest = self.registry.builds.get(build.tenant)
        if latest is not None and latest.generation == build.generation:
            return latest
        return build

    async def _publish_completed(
        self, build: Build, tally: Tally, documents: int
    ) -> None:
        ended = datetime.now(UTC)
        await self._publish(
            ReindexCompleted(
                tenant=build.tenant,
                command_ids=build.command_ids,
                generation=build.generation,
                alias=build.alias,
                indexed=tally.created + tally.updated + tally.stale,
                deleted=tally.deleted + tally.not_found,
                rejected=tally.rejected,
                documents=documents,
                started_at=build.started_at,
                completed_at=ended,
                duration_s=(ended - build.started_at).total_seconds(),
            )
        )
        await self._close(build, ended)

    async def _verify(self, build: Build) -> Tally:
        """The generation holds what the rewinds and the live writes put in."""
        # Live writes go on during a stream of changes: the count must match
        # tallies that did not move while it was taken, so the window is only
        # the refresh and the count, and a moving one is tried again.
        for _attempt in range(VERIFY_ATTEMPTS):
            before = self._tally(build)
            await self.indexes.refresh(build.generation)
            count = await self.indexes.count(build.generation)
            after = self._tally(build)
            if before == after and count == after.documents:
                return after
            await asyncio.sleep(VERIFY_PAUSE_S)
        parts = {
            p: (r.rewind.documents, r.live.documents)
            for p, r in sorted(self.registry.reports_of(build).items())
        }
        raise ReindexError(
            f"{build.generation} holds {count} documents but the writes "
            f"acknowledged {after.documents} (rewound, live by partition: {parts})"
        )

    def _tally(self, build: Build) -> Tally:
        total = Tally()
        owned = self.changelog_partitions()
        for partition, report in self.registry.reports_of(build).items():
            local = None
            if partition in owned:
                local = self.live_tally(build.generation, partition, build.attempt)
            total = total.plus(report.rewind).plus(local or report.live)
        return total

    async def _retry(self, build: Build, reason: str) -> None:
        """A build that did not verify is built again, up to a bound."""
        if build.attempt >= self.max_attempts:
            await self._fail(build, f"{reason} (after {build.attempt} attempts)")
            return
        problem = await self._layout_problem()
        if problem is not None:
            await self._fail(build, problem)
            return
        log.warning(
            "reindex of %s into %s did not verify, building again: %s",
            build.tenant,
            build.generation,
            reason,
            extra={"tenant": build.tenant, "index": build.generation},
        )
        async with self.locks[build.tenant]:
            build = self._current(build)
            await self._discard(build)
            await self._begin(build.model_copy(update={"attempt": build.attempt + 1}))

    async def _discard(self, build: Build) -> None:
        if await self.indexes.live(build.tenant) != build.generation:
            await self.indexes.drop(build.generation)
        await self._discard_reports(build)

    async def _discard_reports(self, build: Build) -> None:
        for partition in list(self.registry.reports_of(build)):
            await self.registry.remove(
                f"partition/{build.tenant}/{build.generation}/{partition}".encode()
            )
        self.positions.release(build.generation)
        self.rewinder.progress.release(build.generation)
        self.reported.pop(build.generation, None)

    async def _fail(self, build: Build, reason: str) -> None:
        async with self.locks[build.tenant]:
            build = self._current(build)
            await self._discard(build)
            await self._publish_failed(build, reason)
        log.error(
            "reindex of %s failed, the alias is unchanged: %s",
            build.tenant,
            reason,
            extra={"tenant": build.tenant, "index": build.generation},
        )

    async def _publish_failed(self, build: Build, reason: str) -> None:
        ended = datetime.now(UTC)
        await self._publish(
            ReindexFailed(
                tenant=build.tenant,
                command_ids=build.command_ids,
                generation=build.generation or None,
                alias=build.alias,
                reason=reason,
                started_at=build.started_at,
                failed_at=ended,
            )
        )
        await self._close(build, ended)

    async def _close(self, build: Build, ended: datetime) -> None:
        previous = self.registry.served.get(build.tenant)
        ids = [*(previous.command_ids if previous else []), *build.command_ids]
        await self.registry.put(
            Served(
                tenant=build.tenant,
                command_partition=build.command_partition,
                command_offset=build.command_offset,
                command_ids=ids[-SERVED_IDS_KEPT:],
                generation=build.generation,
                ended_at=ended,
            )
        )
        await self.registry.remove(build.key)
        await self._discard_reports(build)

    async def _publish(self, event: Model) -> None:
        tenant = getattr(event, "tenant", "")
        await self.producer.send(
            self.events_topic, event.to_bytes(), key=str(tenant).encode()
        )
        self.published(event)

    async def stop(self) -> None:
        tasks = [*self.rewinds.values(), *self.finishing.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.rewinds.clear()
        self.finishing.clear()


def _command(record: Record) -> ReindexRequested | None:
    problem = "it has no value"
    if record.value is not None:
        try:
            return ReindexRequested.model_validate_json(record.value)
        except ValidationError as exc:
            problem = str(exc.errors(include_url=False)[:3])
    log.error(
        "ignoring an unreadable command at %s[%d]@%d: %s",
        record.topic,
        record.partition,
        record.offset,
        problem,
        extra={
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        },
    )
    return None
