"""``indexer load|update|delete`` as a publisher runs them, against a worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from tests.world import World, catalog

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TIMEOUT_S = 120.0


async def _indexer(world: World, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "indexer",
        *args,
        env={**os.environ, **world.env, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT_S):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_publisher_with_another_layout_is_refused_and_sends_nothing(
    world: World,
) -> None:
    world.start_worker()
    documents = catalog("myntra", 50)
    await world.publish("myntra", documents)
    indexed = await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)
    before = sorted(await world.read_topic(world.settings.topics.changelog))
    change = {**documents[0], "name": {"en": "renamed"}}

    code, out, err = await _indexer(
        world,
        "update",
        "myntra",
        json.dumps(change),
        INDEXER_TOPICS__CHANGELOG_SPREAD="4",
    )

    assert code == 2, (out, err)
    assert "error: the changelog" in err
    assert "spread 2" in err
    assert "spread 4" in err
    assert "would be dead-lettered as misplaced" in err
    # Partitions are read side by side: the records compare as a sorted list.
    assert sorted(await world.read_topic(world.settings.topics.changelog)) == before
    assert await world.documents("myntra") == indexed


async def test_an_update_that_is_not_json_says_which_and_sends_nothing(
    world: World,
) -> None:
    before = await world.read_topic(world.settings.topics.changelog)

    code, out, err = await _indexer(world, "update", "myntra", '{"id": "a"}', "nope")

    assert code == 2, (out, err)
    assert err.startswith("error: document 2 is not JSON")
    assert "Traceback" not in err
    assert await world.read_topic(world.settings.topics.changelog) == before
