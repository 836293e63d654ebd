"""The changelog layout: a reindex reads the tenant's homes, strays are refused."""

from __future__ import annotations

import asyncio
import re

import pytest

from indexer.events import DeadLetter, ReindexCompleted, ReindexRequested
from indexer.kafka import Producer
from indexer.products import encode
from tests.world import World, catalog

TIMEOUT_S = 120.0

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_reindex_reads_only_the_tenants_homes(world: World) -> None:
    layout, partitions = world.settings.topics.layout, 12
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
    layout, partitions = world.settings.topics.layout, 12
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
    layout, partitions = world.settings.topics.layout, 12
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
