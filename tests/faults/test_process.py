"""Process faults: a worker killed with SIGKILL mid-reindex and mid-stream.

Workers leave the consumer group within ``FAST_GROUP``'s session timeout, so
a restart or a rebalance takes seconds instead of faust's default minute.
"""

from __future__ import annotations

import asyncio

import pytest

from indexer.events import ReindexCompleted, ReindexRequested
from tests.faults.proxies import ThrottlingProxy
from tests.faults.support import (
    FAST_GROUP,
    SLOW_REWIND,
    TIMEOUT_S,
    AliasWatch,
    ChangeStream,
    catalog,
    check_completed,
    live_generation,
    log_count,
    outcomes_of,
    partly_built,
    started_event,
    wait_for_log,
    wait_owned,
)
from tests.world import Worker, World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.mark.parametrize("moment", ["mid-rewind", "after-swap"])
async def test_a_killed_worker_finishes_the_reindex_after_restart(
    world: World, throttling_proxy: ThrottlingProxy, moment: str
) -> None:
    documents = catalog("myntra", 3000)
    through_proxy = {**SLOW_REWIND, "INDEXER_OPENSEARCH__URL": throttling_proxy.url}
    first = world.start_worker(**through_proxy)
    await world.publish("myntra", documents)
    await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)
    before = await live_generation(world, "myntra")
    command = ReindexRequested(tenant="myntra", requested_by="fault-tests")

    async with AliasWatch(world, "myntra") as watch, world.follow() as events:
        if moment == "mid-rewind":
            throttling_proxy.set("slow")  # every bulk 0.1 s late: a long rewind
        await world.command(command)
        if moment == "mid-rewind":
            started = await started_event(events, command.command_id)
            partial = await partly_built(world, started.generation, len(documents))
        else:
            await watch.moved_from(before, TIMEOUT_S)
        first.kill()
        throttling_proxy.set("pass")
        second = world.start_worker(**through_proxy)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    completed = check_completed(outcome, len(documents))
    assert await world.documents("myntra") == world.oracle.of("myntra")
    assert await live_generation(world, "myntra") == completed.generation
    assert second.process.poll() is None
    ends = [
        event
        for event in await outcomes_of(world, command.command_id)
        if event["type"] in ("ReindexCompleted", "ReindexFailed")
    ]
    assert {(e["type"], e["generation"], e["documents"]) for e in ends} == {
        ("ReindexCompleted", completed.generation, len(documents))
    }
    # The alias only ever named the old generation or the completed one, full.
    assert set(watch.generations) <= {before, completed.generation}
    assert {count for _, count in watch.samples} == {len(documents)}
    if moment == "mid-rewind":
        assert 0 < partial < len(documents)


async def test_a_worker_killed_while_indexing_loses_no_acknowledged_change(
    world: World,
) -> None:
    tenants = ["decathlon", "amazontoys"]
    for tenant in tenants:
        await world.publish(tenant, catalog(tenant, 1000))
    first = world.start_worker(**FAST_GROUP)
    stream = ChangeStream(world, tenants, per_round=100, pause_s=0.05)

    publishing = asyncio.create_task(stream.run(duration_s=15))
    await wait_for_log(first, "assigned partitions")
    await asyncio.sleep(4)
    first.kill()
    second = world.start_worker(**FAST_GROUP)
    await publishing

    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    assert second.process.poll() is None
    assert stream.published > 2000


async def test_one_of_two_workers_killed_during_a_reindex_and_a_stream(
    world: World,
) -> None:
    documents = catalog("amazontoys", 3000)
    await world.publish("amazontoys", documents)
    workers = [world.start_worker(**SLOW_REWIND), world.start_worker(**SLOW_REWIND)]
    await world.wait_for_assignment()
    await world.wait_for("amazontoys", world.oracle.of("amazontoys"), TIMEOUT_S)
    stream = ChangeStream(world, ["amazontoys", "decathlon"], per_round=40)
    command = ReindexRequested(tenant="amazontoys", requested_by="fault-tests")

    async with world.follow() as events:
        publishing = asyncio.create_task(stream.run(duration_s=8))
        await world.command(command)
        started = await started_event(events, command.command_id)
        # The worker coordinating the build dies; the other takes over.
        coordinator = await _logging(workers, f"started into {started.generation}")
        coordinator.kill()
        survivor = next(w for w in workers if w is not coordinator)
        await publishing
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    # The count in the event is what the build held when it was verified: the
    # dead worker's partitions wait for the rebalance, so later changes of the
    # stream may reach the new generation only after it is live. Nothing is
    # lost: the alias ends equal to the oracle.
    expected = world.oracle.of("amazontoys")
    assert isinstance(outcome, ReindexCompleted), outcome
    await wait_owned(world, [survivor])
    assert await world.wait_for("amazontoys", expected, TIMEOUT_S) == expected
    assert await live_generation(world, "amazontoys") == outcome.generation
    decathlon = world.oracle.of("decathlon")
    assert await world.wait_for("decathlon", decathlon, TIMEOUT_S) == decathlon
    assert survivor.process.poll() is None
    assert log_count(survivor, "assigned partitions") >= 2  # it took over


async def _logging(workers: list[Worker], text: str) -> Worker:
    """The worker whose log has ``text``, once one has."""
    for _ in range(100):
        for worker in workers:
            if log_count(worker, text):
                return worker
        await asyncio.sleep(0.1)
    pytest.fail(f"no worker logged {text!r}")
