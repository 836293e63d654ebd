"""Order and replay: duplicates, versions out of order, delete then recreate,
and every topic read again from offset 0 into an empty set of indexes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from indexer.events import ReindexCompleted
from tests.faults.support import TIMEOUT_S, catalog, changed, reindex
from tests.world import World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _orderings(
    world: World, tenant: str, documents: list[dict[str, Any]]
) -> None:
    """Every ordering case once, on distinct products of ``tenant``."""
    first, second, third, fourth, fifth = documents[:5]
    twice = changed(first, "the same change twice")
    await world.publish(tenant, [twice, twice])
    newer, older = changed(second, "newer", by=2), changed(second, "older", by=1)
    await world.publish(tenant, [newer, older])
    high = {**third, "metadata": {**third["metadata"], "version": 50}}
    await world.publish(tenant, [high])
    await world.delete(tenant, [third["id"]])
    lower = changed(third, "recreated lower")
    await world.publish(tenant, [{**lower, "metadata": {"version": 1}}])
    await world.delete(tenant, [fourth["id"]])
    await world.publish(tenant, [changed(fourth, "recreated higher", by=3)])
    await world.delete(tenant, [fifth["id"], f"{fifth['id']}-never-seen"])
    await world.delete(tenant, [fifth["id"]])


async def test_orderings_and_a_full_replay_equal_the_oracle(world: World) -> None:
    tenants = {"decathlon": 400, "amazontoys": 300}
    for tenant, count in tenants.items():
        await world.publish(tenant, catalog(tenant, count))
    world.start_worker()
    for tenant in tenants:
        await _orderings(world, tenant, list(world.oracle.of(tenant).values()))
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    outcome = await reindex(world, "decathlon")
    assert isinstance(outcome, ReindexCompleted), outcome
    await _orderings(
        world, "decathlon", list(world.oracle.of("decathlon").values())[5:]
    )
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected

    replay = _replaying(world)
    worker = replay.start_worker()
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await replay.wait_for(tenant, expected, TIMEOUT_S) == expected
        assert await replay.documents(tenant) == await world.documents(tenant)
    assert worker.process.poll() is None, worker.tail()


def _replaying(world: World) -> World:
    """The same topics read by a new worker group into a fresh index prefix.

    The prefix starts with the world's, so the world's teardown deletes its
    indexes too.
    """
    prefix = f"{world.settings.opensearch.index_prefix}-replay"
    app_id = f"{world.settings.worker.app_id}-replay"
    settings = world.settings.model_copy(
        update={
            "opensearch": world.settings.opensearch.model_copy(
                update={"index_prefix": prefix}
            ),
            "worker": world.settings.worker.model_copy(update={"app_id": app_id}),
        }
    )
    env = {
        **world.env,
        "INDEXER_OPENSEARCH__INDEX_PREFIX": prefix,
        "INDEXER_WORKER__APP_ID": app_id,
        "INDEXER_WORKER__DATA_DIR": str(world.folder / "replay-data"),
    }
    folder = world.folder / "replay"
    folder.mkdir()
    return dataclasses.replace(
        world, settings=settings, env=env, folder=folder, workers=world.workers
    )
