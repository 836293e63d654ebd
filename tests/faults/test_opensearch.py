"""OpenSearch faults, seen by one worker through a proxy of the test's own.

The shared node never stops: the proxy refuses or hangs connections, answers
429, or the test blocks writes on its own generation. The worker must back
off, commit no offset past a record it did not write, and resume by itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from indexer.events import ReindexRequested
from tests.faults.proxies import TcpProxy, ThrottlingProxy
from tests.faults.support import (
    TIMEOUT_S,
    AliasWatch,
    catalog,
    changed,
    check_completed,
    committed,
    dead_letters,
    end_offsets,
    live_generation,
    log_count,
    started_event,
)
from tests.world import Worker, World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

OUTAGE_S = 20.0
# Retries stay frequent, so recovery is seen within seconds of the outage.
QUICK_RETRY = {"INDEXER_WORKER__RETRY_MAX_S": "2"}


async def _changes(world: World, tenant: str, count: int) -> None:
    """Updates, deletes and new products of a tenant whose catalog is indexed."""
    known = list(world.oracle.of(tenant).values())
    updates = [changed(d, f"during the fault {d['id']}") for d in known[:count]]
    fresh = [{**d, "id": f"{d['id']}-new"} for d in known[count : 2 * count]]
    await world.publish(tenant, [*updates, *fresh])
    await world.delete(tenant, [d["id"] for d in known[2 * count : 3 * count]])


async def _assert_nothing_committed_past(
    admin: AIOKafkaAdminClient, world: World, ends: dict[int, int]
) -> None:
    offsets = await committed(admin, world)
    past = {p: (o, ends[p]) for p, o in offsets.items() if o > ends[p]}
    assert not past, f"offsets committed past unwritten records: {past}"


async def _assert_all_committed(admin: AIOKafkaAdminClient, world: World) -> None:
    ends = await end_offsets(world)
    offsets: dict[int, int] = {}
    for _ in range(40):
        offsets = await committed(admin, world)
        if all(offsets.get(p, 0) == end for p, end in ends.items() if end):
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"committed {offsets}, log ends {ends}")


def _assert_alone_and_alive(world: World, worker: Worker) -> None:
    assert world.workers == [worker], "the worker was restarted"
    assert worker.process.poll() is None, worker.tail()


@pytest.mark.parametrize("mode", ["refuse", "hang"])
async def test_opensearch_cut_while_indexing(
    world: World,
    search_proxy: TcpProxy,
    kafka_admin: AIOKafkaAdminClient,
    mode: Any,
) -> None:
    worker = world.start_worker(
        INDEXER_OPENSEARCH__URL=search_proxy.url,
        INDEXER_OPENSEARCH__REQUEST_TIMEOUT_S="3",
        **QUICK_RETRY,
    )
    await world.publish("decathlon", catalog("decathlon", 1000))
    indexed = await world.wait_for("decathlon", world.oracle.of("decathlon"))
    assert indexed == world.oracle.of("decathlon")
    await _assert_all_committed(kafka_admin, world)
    ends = await end_offsets(world)

    await search_proxy.cut(mode)
    await _changes(world, "decathlon", 100)
    await asyncio.sleep(OUTAGE_S)
    await _assert_nothing_committed_past(kafka_admin, world, ends)
    assert await world.documents("decathlon") == indexed
    _assert_alone_and_alive(world, worker)
    await search_proxy.restore()

    expected = world.oracle.of("decathlon")
    assert await world.wait_for("decathlon", expected, 60) == expected
    await _assert_all_committed(kafka_admin, world)
    _assert_alone_and_alive(world, worker)
    assert log_count(worker, "failed") > 0, "the outage went unnoticed"
    assert await dead_letters(world, 1, timeout_s=1) == []


async def test_opensearch_hangs_during_a_reindex(
    world: World, search_proxy: TcpProxy
) -> None:
    worker = world.start_worker(
        INDEXER_OPENSEARCH__URL=search_proxy.url,
        INDEXER_OPENSEARCH__REQUEST_TIMEOUT_S="3",
        INDEXER_WORKER__BATCH_SIZE="20",
        **QUICK_RETRY,
    )
    documents = catalog("myntra", 6000)
    await world.publish("myntra", documents)
    await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)
    before = await live_generation(world, "myntra")
    command = ReindexRequested(tenant="myntra", requested_by="fault-tests")

    async with AliasWatch(world, "myntra") as watch, world.follow() as events:
        await world.command(command)
        await started_event(events, command.command_id)
        await search_proxy.cut("hang")
        await asyncio.sleep(OUTAGE_S)
        assert await live_generation(world, "myntra") == before
        _assert_alone_and_alive(world, worker)
        await search_proxy.restore()
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    completed = check_completed(outcome, len(documents))
    assert await world.documents("myntra") == world.oracle.of("myntra")
    assert set(watch.generations) <= {before, completed.generation}
    assert {count for _, count in watch.samples} == {len(documents)}
    _assert_alone_and_alive(world, worker)


async def test_429s_whole_and_per_item_delay_but_lose_nothing(
    world: World,
    throttling_proxy: ThrottlingProxy,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    worker = world.start_worker(
        INDEXER_OPENSEARCH__URL=throttling_proxy.url, **QUICK_RETRY
    )
    await world.publish("amazontoys", catalog("amazontoys", 2000))
    indexed = await world.wait_for("amazontoys", world.oracle.of("amazontoys"))
    assert indexed == world.oracle.of("amazontoys")
    ends = await end_offsets(world)

    throttling_proxy.set("whole")
    await _changes(world, "amazontoys", 100)
    await asyncio.sleep(8)
    await _assert_nothing_committed_past(kafka_admin, world, ends)
    assert await world.documents("amazontoys") == indexed
    throttling_proxy.set("items")
    async with world.follow() as events:
        command = ReindexRequested(tenant="amazontoys", requested_by="fault-tests")
        await world.command(command)
        await asyncio.sleep(8)
        throttling_proxy.set("pass")
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    expected = world.oracle.of("amazontoys")
    check_completed(outcome, len(expected))
    assert await world.wait_for("amazontoys", expected) == expected
    stats = throttling_proxy.stats
    assert stats.rejected_bulks > 0
    assert stats.rejected_items > 0
    assert await dead_letters(world, 1, timeout_s=1) == []
    await _assert_all_committed(kafka_admin, world)
    _assert_alone_and_alive(world, worker)


BLOCKS = [
    pytest.param("read_only_allow_delete", id="flood-stage-block"),
    pytest.param("write", id="write-block"),
]


@pytest.mark.parametrize("block", BLOCKS)
async def test_a_blocked_generation_holds_writes_until_unblocked(
    world: World, kafka_admin: AIOKafkaAdminClient, block: str
) -> None:
    worker = world.start_worker(**QUICK_RETRY)
    await world.publish("decathlon", catalog("decathlon", 1000))
    indexed = await world.wait_for("decathlon", world.oracle.of("decathlon"))
    assert indexed == world.oracle.of("decathlon")
    generation = await live_generation(world, "decathlon")
    ends = await end_offsets(world)
    setting = f"index.blocks.{block}"

    await world.opensearch.indices.put_settings(index=generation, body={setting: True})
    try:
        await _changes(world, "decathlon", 100)
        await asyncio.sleep(8)
        letters = await dead_letters(world, 1, timeout_s=1)
        await _assert_nothing_committed_past(kafka_admin, world, ends)
    finally:
        await world.opensearch.indices.put_settings(
            index=generation, body={setting: None}
        )

    expected = world.oracle.of("decathlon")
    assert await world.wait_for("decathlon", expected, 60) == expected
    assert letters == []
    _assert_alone_and_alive(world, worker)
