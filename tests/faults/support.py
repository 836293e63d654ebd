"""Helpers of the fault tests: catalogs, streams of changes, watches and checks."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy.exceptions import NotFoundError

from indexer import products
from indexer.commands import EventFollower, Outcome
from indexer.errors import KafkaUnavailable
from indexer.events import (
    ProductKey,
    ReindexCompleted,
    ReindexRequested,
    ReindexStarted,
)
from indexer.kafka import Producer, partition_count
from indexer.products import catalog_folder, encode
from tests.world import Worker, World

CATALOGS = catalog_folder()
TIMEOUT_S = 120.0

# A dead member leaves the consumer group after this, instead of faust's 60 s.
FAST_GROUP = {"BROKER_SESSION_TIMEOUT": "8", "BROKER_HEARTBEAT_INTERVAL": "1"}
# Small batches make a rewind last long enough to hit it with a fault.
SLOW_REWIND = {"INDEXER_WORKER__BATCH_SIZE": "20", **FAST_GROUP}


def catalog(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    path = CATALOGS / f"{name}.jsonl.gz"
    if not path.exists():
        pytest.fail(f"the catalog {path} is missing: set INDEXER_CATALOGS")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in itertools.islice(lines, limit)]


def changed(document: dict[str, Any], name: str, by: int = 1) -> dict[str, Any]:
    """The document renamed, at a version ``by`` above its own."""
    metadata = document.get("metadata") or {}
    version = int(metadata.get("version", 0)) + by
    return {
        **document,
        "name": {"en": name},
        "metadata": {**metadata, "version": version},
    }


async def reindex(world: World, tenant: str, timeout_s: float = TIMEOUT_S) -> Outcome:
    async with world.follow() as events:
        command = ReindexRequested(tenant=tenant, requested_by="fault-tests")
        await world.command(command)
        return await events.outcome(command.command_id, timeout_s)


async def started_event(events: EventFollower, command_id: str) -> ReindexStarted:
    """The next ReindexStarted naming the command."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        for event in await events.next_events(1.0):
            if isinstance(event, ReindexStarted) and command_id in event.command_ids:
                return event
    pytest.fail(f"no ReindexStarted for {command_id}")


async def partly_built(world: World, generation: str, total: int) -> int:
    """Once the building generation holds some of ``total``: how many."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        await world.opensearch.indices.refresh(index=generation)
        count = int((await world.opensearch.count(index=generation))["count"])
        if count > 0:
            return count
        await asyncio.sleep(0.05)
    pytest.fail(f"{generation} stayed empty")


async def wait_for_log(worker: Worker, text: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if text in worker.log.read_text(errors="replace"):
            return
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited before logging {text!r}:\n{worker.tail()}")
        await asyncio.sleep(0.2)
    pytest.fail(f"the worker never logged {text!r}:\n{worker.tail()}")


def log_count(worker: Worker, text: str) -> int:
    return worker.log.read_text(errors="replace").count(text)


async def wait_owned(
    world: World, workers: list[Worker], timeout_s: float = 60
) -> None:
    """Until ``workers`` own every changelog partition between them."""
    topic = world.settings.topics.changelog
    total = world.settings.topics.changelog_partitions
    deadline = asyncio.get_running_loop().time() + timeout_s
    owned: list[set[int]] = []
    while asyncio.get_running_loop().time() < deadline:
        owned = [worker.owned(topic) for worker in workers]
        if all(owned) and set().union(*owned) == set(range(total)):
            return
        await asyncio.sleep(0.25)
    pytest.fail(f"{len(workers)} workers never owned all of {topic}: {owned}")


async def live_generation(world: World, tenant: str) -> str | None:
    try:
        found = await world.opensearch.indices.get_alias(name=world.alias(tenant))
    except NotFoundError:
        return None
    return sorted(found)[-1] if found else None


@dataclass
class AliasWatch:
    """Samples which generation the alias names, and how many documents it holds."""

    world: World
    tenant: str
    every_s: float = 0.2
    samples: list[tuple[str, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def generations(self) -> list[str]:
        return list(dict.fromkeys(generation for generation, _ in self.samples))

    async def moved_from(self, generation: str | None, timeout_s: float) -> str:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if self.samples and self.samples[-1][0] != generation:
                return self.samples[-1][0]
            await asyncio.sleep(0.02)
        pytest.fail(f"the alias never moved from {generation}")

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(NotFoundError):
                await self._sample()
            await asyncio.sleep(self.every_s)

    async def _sample(self) -> None:
        generation = await live_generation(self.world, self.tenant)
        if generation is None:
            return
        answer = await self.world.opensearch.count(index=generation)
        self.samples.append((generation, int(answer["count"])))


async def committed(
    admin: AIOKafkaAdminClient, world: World, topic: str | None = None
) -> dict[int, int]:
    """The offsets the world's worker group committed, by partition."""
    topic = topic or world.settings.topics.changelog
    offsets = await admin.list_consumer_group_offsets(world.settings.worker.app_id)
    return {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic
    }


async def end_offsets(world: World, topic: str | None = None) -> dict[int, int]:
    topic = topic or world.settings.topics.changelog
    bootstrap = world.settings.kafka.bootstrap_servers
    partitions = [
        TopicPartition(topic, p) for p in range(await partition_count(bootstrap, topic))
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def dead_letters(
    world: World, expected: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The dead letters, once there are at least ``expected`` (or the last read)."""
    letters: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        records = await world.read_topic(world.settings.topics.deadletter)
        letters = [json.loads(value) for _, value in records if value]
        if len(letters) >= expected:
            break
        await asyncio.sleep(0.5)
    return letters


async def outcomes_of(world: World, command_id: str) -> list[dict[str, Any]]:
    """Every event that names the command, in topic order."""
    return [e for e in await world.events() if command_id in e["commandIds"]]


def check_completed(outcome: Outcome, documents: int) -> ReindexCompleted:
    assert isinstance(outcome, ReindexCompleted), outcome
    assert outcome.documents == documents, outcome
    return outcome


@dataclass
class ChangeStream:
    """Publishes rounds of upserts, updates and deletes, and keeps the oracle.

    A round that Kafka did not acknowledge is published again whole, by a new
    producer: the same records twice change nothing, so the oracle stays exact.
    """

    world: World
    tenants: list[str]
    per_round: int = 100
    pause_s: float = 0.1
    seed: int = 7
    rounds: int = 0
    published: int = 0
    retried: int = 0
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _producer: Producer | None = None

    async def run(self, duration_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + duration_s
        chooser = random.Random(self.seed)  # noqa: S311 - test data, not crypto
        try:
            while asyncio.get_running_loop().time() < deadline:
                tenant = self.tenants[self.rounds % len(self.tenants)]
                await self._publish(tenant, self._round(tenant, chooser))
                self.rounds += 1
                await asyncio.sleep(self.pause_s)
        finally:
            await self._reset()

    def _round(self, tenant: str, chooser: random.Random) -> list[Change]:
        known = list(self.world.oracle.of(tenant).values())
        fresh = [
            _stream_document(tenant, next(self._ids))
            for _ in range(self.per_round // 2)
        ]
        updated = [
            changed(document, f"round {self.rounds}")
            for document in chooser.sample(known, min(len(known), self.per_round // 2))
        ]
        touched = {document["id"] for document in updated}
        spare = [d["id"] for d in known if d["id"] not in touched]
        deleted = chooser.sample(spare, min(len(spare), max(1, self.per_round // 20)))
        return [
            *((tenant, d["id"], d) for d in [*fresh, *updated]),
            *((tenant, product_id, None) for product_id in deleted),
        ]

    async def _publish(self, tenant: str, changes: list[Change]) -> None:
        records: list[tuple[bytes | None, bytes | None]] = [
            (
                ProductKey(tenant, product_id).encode(),
                None if document is None else encode(tenant, document)[1],
            )
            for _, product_id, document in changes
        ]
        for attempt in itertools.count():
            try:
                producer = await self._ready()
                await producer.send_many(self.world.settings.topics.changelog, records)
            except KafkaUnavailable:
                self.retried += 1
                await self._reset()
                await asyncio.sleep(min(2.0, 0.2 * (attempt + 1)))
                continue
            break
        for owner, product_id, document in changes:
            if document is None:
                self.world.oracle.delete(owner, product_id)
            else:
                self.world.oracle.upsert(owner, document)
        self.published += len(changes)

    async def _ready(self) -> Producer:
        if self._producer is None:
            producer = products.changelog_producer(self.world.settings, "fault-stream")
            await producer.start()
            self._producer = producer
        return self._producer

    async def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()


Change = tuple[str, str, dict[str, Any] | None]


def _stream_document(tenant: str, number: int) -> dict[str, Any]:
    return {
        "id": f"s{number:07d}",
        "tenant": tenant,
        "name": {"en": f"streamed product {number}"},
        "published": True,
        "tags": ["stream", f"n{number % 10}"],
        "metadata": {"version": 1},
    }
