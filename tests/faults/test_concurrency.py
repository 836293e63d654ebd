"""Concurrency: bursts of commands, tenants reindexed at once, a reindex under load.

Builds are counted by their ``ReindexStarted`` generations; every command must
be named by a completion event; the indexes must equal the oracle after.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from indexer.events import ReindexCompleted, ReindexRequested
from indexer.kafka import Producer
from tests.faults.support import (
    SLOW_REWIND,
    TIMEOUT_S,
    AliasWatch,
    ChangeStream,
    catalog,
    log_count,
    reindex,
)
from tests.world import World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

BURST = 20


async def _burst(world: World, tenant: str, count: int) -> list[ReindexRequested]:
    """``count`` commands for ``tenant``, sent back to back by one producer."""
    commands = [
        ReindexRequested(tenant=tenant, requested_by=f"burst-{n}") for n in range(count)
    ]
    async with Producer(world.settings.kafka, "tests") as producer:
        await producer.send_many(
            world.settings.topics.commands,
            [(tenant.encode(), command.to_bytes()) for command in commands],
        )
    return commands


def _served(events: list[dict[str, Any]]) -> set[str]:
    return set(
        itertools.chain.from_iterable(
            e["commandIds"] for e in events if e["type"] == "ReindexCompleted"
        )
    )


async def test_a_burst_of_commands_is_one_build(world: World) -> None:
    world.start_worker(**SLOW_REWIND)
    await world.publish("decathlon", catalog("decathlon", 3000))
    expected = world.oracle.of("decathlon")
    assert await world.wait_for("decathlon", expected, TIMEOUT_S) == expected

    async with world.follow() as events:
        burst = await _burst(world, "decathlon", BURST)
        outcome = await events.outcome(burst[-1].command_id, TIMEOUT_S)

    assert isinstance(outcome, ReindexCompleted), outcome
    every = await world.events()
    started = {e["generation"] for e in every if e["type"] == "ReindexStarted"}
    assert len(started) == 1, started
    assert _served(every) == {command.command_id for command in burst}
    assert [e["type"] for e in every if e["type"] == "ReindexFailed"] == []
    assert await world.documents("decathlon") == expected


async def test_three_tenants_reindexed_at_once(world: World) -> None:
    tenants = {"decathlon": 2000, "amazontoys": 2000, "myntra": 2000}
    world.start_worker(**SLOW_REWIND)
    for tenant, count in tenants.items():
        await world.publish(tenant, catalog(tenant, count))
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected

    outcomes = await asyncio.gather(*(reindex(world, tenant) for tenant in tenants))

    for tenant, outcome in zip(tenants, outcomes, strict=True):
        assert isinstance(outcome, ReindexCompleted), outcome
        assert outcome.tenant == tenant
        assert outcome.documents == tenants[tenant]
        assert await world.documents(tenant) == world.oracle.of(tenant)


async def test_reindexes_during_a_stream_lose_no_update_at_the_swap(
    world: World,
) -> None:
    tenants = ["amazontoys", "decathlon"]
    for tenant in tenants:
        await world.publish(tenant, catalog(tenant, 2000))
    worker = world.start_worker()
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    # About 1,000 changes a second, alternating tenants, for 40 seconds.
    stream = ChangeStream(world, tenants, per_round=100, pause_s=0.05)

    async with AliasWatch(world, "amazontoys") as watch:
        publishing = asyncio.create_task(stream.run(duration_s=40))
        outcomes = []
        for _ in range(2):
            await asyncio.sleep(8)
            outcomes.append(await reindex(world, "amazontoys"))
        await publishing

    assert all(isinstance(o, ReindexCompleted) for o in outcomes), outcomes
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    assert len(watch.generations) >= 3, watch.generations
    assert stream.published > 10_000, stream.published
    assert worker.process.poll() is None, worker.tail()
    # Each build verified at its first attempt, writes going on all along.
    assert log_count(worker, "did not verify") == 0, worker.tail()


async def test_a_reindex_by_two_workers_during_a_stream(world: World) -> None:
    tenants = ["amazontoys", "decathlon"]
    for tenant in tenants:
        await world.publish(tenant, catalog(tenant, 2000))
    workers = [world.start_worker(), world.start_worker()]
    await world.wait_for_assignment()
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    stream = ChangeStream(world, tenants, per_round=100, pause_s=0.05)

    publishing = asyncio.create_task(stream.run(duration_s=25))
    await asyncio.sleep(5)
    outcome = await reindex(world, "amazontoys")
    await publishing

    assert isinstance(outcome, ReindexCompleted), outcome
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    for worker in workers:
        assert worker.process.poll() is None, worker.tail()
        assert log_count(worker, "did not verify") == 0, worker.tail()
