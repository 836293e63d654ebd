"""The worker as operators see it: health pages, metrics and JSON log lines.

Real ``indexer worker`` processes against the real Kafka and OpenSearch; a
dependency goes away through a loopback proxy that is cut, or a closed port.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from indexer.events import ReindexCompleted
from indexer.settings import Settings
from tests.faults.proxies import TcpProxy, address_of, free_port
from tests.worker.test_worker import TIMEOUT_S, catalog, reindex
from tests.world import Worker, World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
HEALTH_TIMEOUT_S = "1"
PAGE_TIMEOUT_S = 60.0


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _start(world: World, *options: str, **env: str) -> tuple[Worker, str]:
    """A worker and the base URL of its web server."""
    port = free_port()
    worker = world.start_worker(
        *options,
        INDEXER_WORKER__WEB_PORT=str(port),
        INDEXER_HEALTH__TIMEOUT_S=HEALTH_TIMEOUT_S,
        **env,
    )
    return worker, f"http://127.0.0.1:{port}"


async def _get(world: World, url: str) -> httpx.Response:
    """``url`` once the worker's web server answers."""
    deadline = asyncio.get_running_loop().time() + PAGE_TIMEOUT_S
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            world.check_workers()
            try:
                return await client.get(url)
            except httpx.TransportError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.25)


async def _ready_status(world: World, base: str, expected: int) -> dict[str, Any]:
    """The readiness answer once it has ``expected`` status, or the last one."""
    for _ in range(40):
        response = await _get(world, f"{base}/health/ready")
        if response.status_code == expected:
            break
        await asyncio.sleep(0.5)
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def _metrics_once(world: World, base: str, name: str, total: float) -> Samples:
    """The worker's metrics once ``name`` sums to ``total``, or the last read."""
    for _ in range(60):
        samples = _samples((await _get(world, f"{base}/metrics")).text)
        if sum(v for (sample, _), v in samples.items() if sample == name) >= total:
            break
        await asyncio.sleep(0.5)
    return samples


async def test_readiness_names_the_dependency_that_is_away(
    world: World, settings: Settings
) -> None:
    proxy = TcpProxy(address_of(f"kafka://{settings.kafka.bootstrap_servers}"))
    closed = free_port()
    try:
        _, through_proxy = _start(
            world, INDEXER_KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{proxy.port}"
        )
        _, no_search = _start(
            world, INDEXER_OPENSEARCH__URL=f"http://127.0.0.1:{closed}"
        )
        await _ready_status(world, through_proxy, 200)
        search_away = await _ready_status(world, no_search, 503)
        await proxy.cut("refuse")
        kafka_away = await _ready_status(world, through_proxy, 503)
        live = await _get(world, f"{through_proxy}/health/live")
        await proxy.restore()
        await _ready_status(world, through_proxy, 200)
    finally:
        proxy.close()

    assert search_away["failed"] == ["opensearch"]
    assert search_away["checks"]["kafka"]["status"] == "up"
    assert kafka_away["failed"] == ["kafka"]
    assert kafka_away["checks"]["kafka"]["error"].startswith("unreachable")
    assert (live.status_code, live.json()) == (200, {"status": "live"})


async def test_metrics_after_indexing_and_a_reindex(world: World) -> None:
    documents = catalog("decathlon", 300)
    _, base = _start(world)
    await _ready_status(world, base, 200)
    await world.publish("decathlon", documents)
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    outcome = await reindex(world, "decathlon")
    gone = [document["id"] for document in documents[:10]]
    await world.delete("decathlon", gone)
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)
    response = await _get(world, f"{base}/metrics")

    assert isinstance(outcome, ReindexCompleted), outcome
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    for pipeline in ("live", "rewind"):
        labels = (("pipeline", pipeline), ("tenant", "decathlon"))
        assert samples[("indexer_documents_indexed_total", labels)] == len(documents)
    live = (("pipeline", "live"), ("tenant", "decathlon"))
    assert samples[("indexer_documents_deleted_total", live)] == len(gone)
    completed = (("outcome", "completed"),)
    assert samples[("indexer_reindex_duration_seconds_count", completed)] == 1
    assert samples[("indexer_reindex_duration_seconds_sum", completed)] > 0
    reindexes = (("outcome", "completed"), ("tenant", "decathlon"))
    assert samples[("indexer_reindexes_total", reindexes)] == 1
    assert samples[("indexer_bulk_request_seconds_count", ())] >= 2
    assert samples[("indexer_bulk_request_bytes_total", ())] > 0
    # Every live change, the 300 upserts and the 10 tombstones, has its delay.
    delays = samples[("indexer_change_delay_seconds_count", ())]
    assert delays == len(documents) + len(gone)
    assert 0 < samples[("indexer_change_delay_seconds_sum", ())] < delays * TIMEOUT_S
    changelog = world.settings.topics.changelog
    lags = {
        dict(labels)["partition"]: value
        for (name, labels), value in samples.items()
        if name == "indexer_consumer_lag" and dict(labels)["topic"] == changelog
    }
    partitions = world.settings.topics.changelog_partitions
    assert lags == {str(partition): 0 for partition in range(partitions)}


async def test_json_log_lines_carry_a_dead_letter_coordinates(world: World) -> None:
    worker, base = _start(world, "--log-json")
    await _ready_status(world, base, 200)
    await world.send_raw(b"decathlon/bad-1", b"{not json")
    await world.send_raw(b"no-tenant-key", b"{}")
    good = catalog("decathlon", 5)
    await world.publish("decathlon", good)
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    samples = await _metrics_once(world, base, "indexer_dead_letters_total", 2)
    lines = [line for line in worker.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]

    letters = [r for r in records if r["message"].startswith("dead-lettered")]
    assert len(letters) == 2
    [letter] = [r for r in letters if r.get("tenant") == "decathlon"]
    assert letter["level"] == "WARNING"
    assert letter["tenant"] == "decathlon"
    assert letter["topic"] == world.settings.topics.changelog
    assert isinstance(letter["partition"], int)
    assert isinstance(letter["offset"], int)
    assert "invalid_json" in letter["message"]
    dead = "indexer_dead_letters_total"
    assert samples[(dead, (("code", "invalid_json"), ("tenant", "decathlon")))] == 1
    # A key that names no valid tenant is counted, under a bounded label.
    assert samples[(dead, (("code", "invalid_key"), ("tenant", "unknown")))] == 1
    rejected = (("pipeline", "live"), ("tenant", "decathlon"))
    assert samples[("indexer_documents_rejected_total", rejected)] == 1
