"""``indexer reindex TENANT --wait`` as an operator runs it, with a real worker."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.world import World, catalog

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TIMEOUT_S = 120.0
SLICE = 300


async def _indexer(world: World, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "indexer",
        *args,
        env={**os.environ, **world.env, "COLUMNS": "160"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT_S):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_wait_shows_the_progress_and_the_outcome(world: World) -> None:
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", SLICE))
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    code, out, err = await _indexer(
        world, "reindex", "decathlon", "--wait", "--timeout", str(TIMEOUT_S)
    )

    generation = f"{world.alias('decathlon')}-000002"
    assert code == 0, err
    assert f"decathlon: {generation} is live" in out
    assert f"{SLICE}/{SLICE} records" in out
    assert (
        f"decathlon: {generation} is live behind {world.alias('decathlon')} "
        f"with {SLICE} documents ({SLICE} indexed, 0 deleted, 0 rejected)"
    ) in out
    assert await world.documents("decathlon") == world.oracle.of("decathlon")
    [completed] = [e for e in await world.events() if e["type"] == "ReindexCompleted"]
    assert completed["generation"] == generation


async def test_a_bad_tenant_is_refused_before_anything_is_sent(world: World) -> None:
    code, out, err = await _indexer(world, "reindex", "Not-A-Tenant", "--wait")

    assert code == 2
    assert "is no tenant" in err
    assert out == ""
    assert await world.read_topic(world.settings.topics.commands) == []
