"""``indexer status`` against the real stack, a worker and two tenants."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest

from indexer.events import ReindexCompleted, ReindexFailed, ReindexRequested
from indexer.kafka import Producer
from tests.cli.test_reindex import TIMEOUT_S, _indexer
from tests.world import World, catalog

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _cells(out: str, count: int) -> list[list[str]]:
    """The body rows of the tables with ``count`` columns."""
    rows = []
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if line.startswith("│") and len(cells) == count:
            rows.append(cells)
    return rows


def _rows(out: str) -> dict[str, list[str]]:
    """The tenants table's rows, by tenant."""
    return {cells[0]: cells for cells in _cells(out, 6)}


async def _status_once_caught_up(world: World) -> str:
    """The output of ``indexer status`` once the worker group has no lag."""
    title = f"Lag of {world.env['INDEXER_WORKER__APP_ID']} on "
    out = ""
    for _ in range(30):
        code, out, err = await _indexer(world, "status")
        assert code == 0, err
        if f"{world.settings.topics.changelog}: 0" in out and title in out:
            return out
        await asyncio.sleep(1.0)
    raise AssertionError(f"the worker group kept a lag:\n{out}")


async def test_status_shows_each_tenant_and_the_lag(world: World) -> None:
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", 250))
    await world.publish("amazontoys", catalog("amazontoys", 120))
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)
    await world.wait_for("amazontoys", world.oracle.of("amazontoys"), TIMEOUT_S)
    async with world.follow() as events:
        command = ReindexRequested(tenant="decathlon", requested_by="tests")
        await world.command(command)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)
    assert isinstance(outcome, ReindexCompleted)

    out = await _status_once_caught_up(world)

    rows = _rows(out)
    decathlon, amazontoys = world.alias("decathlon"), world.alias("amazontoys")
    assert set(rows) == {"decathlon", "amazontoys"}
    assert rows["decathlon"][:4] == [
        "decathlon",
        decathlon,
        f"{decathlon}-000002",
        "250",
    ]
    completed_at = outcome.completed_at.strftime("%Y-%m-%d %H:%M:%SZ")
    # The build read decathlon's home partitions, which amazontoys does not share.
    layout = world.settings.topics.layout
    assert not set(layout.homes("decathlon", 12)) & set(layout.homes("amazontoys", 12))
    assert rows["decathlon"][4:] == [completed_at, "SUCCESS 250/250"]
    assert rows["amazontoys"] == [
        "amazontoys",
        amazontoys,
        f"{amazontoys}-000001",
        "120",
        "-",
        "-",
    ]
    lag = _cells(out, 4)
    partitions = world.settings.topics.changelog_partitions
    assert [row[0] for row in lag] == [str(p) for p in range(partitions)]
    # Partitions no tenant of this world lives on have nothing to commit.
    assert all(
        (committed == end or (committed, end) == ("-", "0")) and gap == "0"
        for _, committed, end, gap in lag
    )
    assert any(committed == "-" for _, committed, _, _ in lag)
    assert sum(int(end) for _, _, end, _ in lag) == 370


async def test_status_shows_a_failed_reindex_and_why(world: World) -> None:
    command = ReindexRequested(tenant="myntra", requested_by="tests")
    failed = ReindexFailed(
        tenant="myntra",
        command_ids=[command.command_id],
        generation=None,
        alias=world.alias("myntra"),
        reason="OpenSearch refused the mapping",
        started_at=command.requested_at,
        failed_at=command.requested_at + timedelta(seconds=3),
    )
    await world.command(command)
    async with Producer(world.settings.kafka, "tests") as producer:
        await producer.send(
            world.settings.topics.events, failed.to_bytes(), key=b"myntra"
        )

    code, out, err = await _indexer(world, "status")

    assert code == 0, err
    failed_at = failed.failed_at.strftime("%Y-%m-%d %H:%M:%SZ")
    assert _rows(out) == {
        "myntra": [
            "myntra",
            world.alias("myntra"),
            "-",
            "-",
            failed_at,
            "FAILURE 0/0: OpenSearch refused the mapping",
        ]
    }
    assert all(row[1:] == ["-", "0", "0"] for row in _cells(out, 4))
    indexes = await world.opensearch.indices.get(
        index=f"{world.alias('myntra')}*", params={"allow_no_indices": "true"}
    )
    assert indexes == {}


async def test_status_says_when_opensearch_is_away(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    world.env["INDEXER_OPENSEARCH__URL"] = f"http://127.0.0.1:{closed}"

    code, out, err = await _indexer(world, "status")

    assert code == 2
    assert f"error: cannot read the indexes at http://127.0.0.1:{closed}" in err
    assert out == ""
