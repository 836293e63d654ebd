"""The changelog layout: a reindex reads the tenant's homes, strays are refused."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from indexer.events import (
    DeadLetter,
    ReindexCompleted,
    ReindexFailed,
    ReindexRequested,
)
from indexer.kafka import Producer
from indexer.products import encode
from tests.world import World, catalog

TIMEOUT_S = 120.0

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_reindex_reads_only_the_tenants_homes(world: World) -> None:
    topics = world.settings.topics
    layout, partitions = topics.layout, topics.changelog_partitions
    homes = layout.homes("decathlon", partitions)
    # The other tenants live on other partitions (checked, not assumed).
    for other in ("amazontoys", "myntra"):
        assert not set(layout.homes(other, partitions)) & set(homes)
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", 300))
    await world.publish("amazontoys", catalog("amazontoys", 2000))
    await world.publish("myntra", catalog("myntra", 2000))
    await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)

    async with world.follow() as events:
        command = ReindexRequested(tenant="decathlon", requested_by="tests")
        await world.command(command)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    assert isinstance(outcome, ReindexCompleted), outcome
    assert await world.documents("decathlon") == world.oracle.of("decathlon")
    assert outcome.documents == 300
    progress = [
        e
        for e in await world.events()
        if e["type"] == "ReindexProgress" and command.command_id in e["commandIds"]
    ]
    assert progress[-1]["expected"] == progress[-1]["processed"] == 300
    rewound = re.findall(r"rewound \S+\[(\d+)\]", world.workers[0].log.read_text())
    assert sorted(int(p) for p in rewound) == homes
    for other in ("amazontoys", "myntra"):
        assert await world.documents(other) == world.oracle.of(other)


async def test_a_record_off_its_tenants_homes_is_dead_lettered(world: World) -> None:
    topics = world.settings.topics
    layout, partitions = topics.layout, topics.changelog_partitions
    homes = layout.homes("amazontoys", partitions)
    stray = next(p for p in range(partitions) if p not in homes)
    documents = catalog("amazontoys", 50)
    world.start_worker()
    await world.publish("amazontoys", documents[:49])
    key, value = encode("amazontoys", documents[49])
    # A publisher that ignores the layout.
    async with Producer(
        world.settings.kafka, "tests", partitioner=lambda *_: stray
    ) as producer:
        await producer.send(world.settings.topics.changelog, value, key=key)

    letters = await _dead_letters(world, 1)
    indexed = await world.wait_for("amazontoys", world.oracle.of("amazontoys"))

    assert [letter.code for letter in letters] == ["misplaced"]
    [letter] = letters
    assert (letter.partition, letter.key, letter.value) == (stray, key, value)
    assert f"belong on partitions {homes} of {partitions}" in letter.reason
    assert f"this one is on {stray}" in letter.reason
    # Not indexed, since no reindex would ever read it again; kept whole above.
    assert documents[49]["id"] not in indexed
    assert len(indexed) == 49


async def _dead_letters(world: World, expected: int) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    for _ in range(60):
        records = await world.read_topic(world.settings.topics.deadletter)
        letters = [
            DeadLetter.model_validate_json(value) for _, value in records if value
        ]
        if len(letters) >= expected:
            break
        await asyncio.sleep(0.5)
    return letters


@pytest.mark.layout(partitioning="key")
async def test_the_key_layout_takes_any_partition_and_reads_them_all(
    world: World,
) -> None:
    topics = world.settings.topics
    layout, partitions = topics.layout, topics.changelog_partitions
    assert layout.homes("decathlon", partitions) == list(range(partitions))
    documents = catalog("decathlon", 300)
    world.start_worker()
    await world.publish("decathlon", documents[:299])
    key, value = encode("decathlon", documents[299])
    # Anywhere is home: a record on any partition is indexed.
    async with Producer(
        world.settings.kafka, "tests", partitioner=lambda *_: 7
    ) as producer:
        await producer.send(world.settings.topics.changelog, value, key=key)
    world.oracle.upsert("decathlon", documents[299])
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    async with world.follow() as events:
        command = ReindexRequested(tenant="decathlon", requested_by="tests")
        await world.command(command)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    assert isinstance(outcome, ReindexCompleted), outcome
    assert await world.documents("decathlon") == world.oracle.of("decathlon")
    rewound = re.findall(r"rewound \S+\[(\d+)\]", world.workers[0].log.read_text())
    assert sorted(int(p) for p in rewound) == list(range(partitions))
    assert await _dead_letters(world, 0) == []


async def test_a_changelog_grown_under_the_worker_is_never_rebuilt(
    world: World, kafka_admin: AIOKafkaAdminClient
) -> None:
    topic = world.settings.topics.changelog
    placed = world.settings.topics.changelog_partitions
    grown = placed + 4
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", 200))
    indexed = await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)
    # Homes move with the partition count: records placed for some count are
    # lost to a rewind that looks for them as if there were more.
    await kafka_admin.create_partitions({topic: NewPartitions(total_count=grown)})

    async with world.follow() as events:
        command = ReindexRequested(tenant="decathlon", requested_by="tests")
        await world.command(command)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    assert isinstance(outcome, ReindexFailed), outcome
    assert f"{topic} has {grown} partitions" in outcome.reason
    assert f"placed for {placed}" in outcome.reason
    assert outcome.generation is None
    assert await world.documents("decathlon") == indexed
    assert len(indexed) == 200

    world.workers[0].stop()
    restarted = world.start_worker()
    assert restarted.process.wait(timeout=60) == 2
    said = restarted.log.read_text()
    assert f"indexed with the tenant layout, spread 2, {placed} partitions" in said
    assert f"now read with the tenant layout, spread 2, {grown} partitions" in said
    assert await world.documents("decathlon") == indexed


async def test_a_worker_with_another_spread_refuses_to_start(world: World) -> None:
    partitions = world.settings.topics.changelog_partitions
    first = world.start_worker()
    await world.publish("myntra", catalog("myntra", 50))
    indexed = await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)
    first.stop()

    other = world.start_worker(INDEXER_TOPICS__CHANGELOG_SPREAD="3")

    assert other.process.wait(timeout=60) == 2
    said = other.log.read_text()
    assert "error: the changelog" in said
    assert f"spread 2, {partitions} partitions, and is now read with" in said
    assert f"spread 3, {partitions} partitions" in said
    assert await world.documents("myntra") == indexed
