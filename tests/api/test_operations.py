"""Liveness, readiness and metrics of the API, against the real servers.

Readiness is checked with the stack up, and with Kafka or OpenSearch pointed
at a closed loopback port or at a listener that never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from indexer.settings import HealthSettings, KafkaSettings, Settings
from indexer.stack import Stack
from tests.api.support import Api, running_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TIMEOUT_S = 1.0
REINDEX_ROUTE = "/indexing/{tenant}/reindex"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _bounded(settings: Settings, **changes: object) -> Settings:
    """``settings`` with a short health bound, and the changes given."""
    health = HealthSettings(timeout_s=TIMEOUT_S)
    return settings.model_copy(update={"health": health, **changes})


def _kafka_at(settings: Settings, port: int) -> Settings:
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}")
    api = settings.api.model_copy(update={"publish_timeout_s": TIMEOUT_S})
    return _bounded(settings, kafka=kafka, api=api)


def _opensearch_at(settings: Settings, port: int) -> Settings:
    search = settings.opensearch.model_copy(update={"url": f"http://127.0.0.1:{port}"})
    return _bounded(settings, opensearch=search)


@contextlib.asynccontextmanager
async def _silent_listener() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _ready(api: Api) -> httpx.Response:
    response = await api.client.get("/health/ready")
    assert response.headers["content-type"] == "application/json"
    return response


async def test_ready_and_live_with_the_stack(stack: Stack, api: Api) -> None:
    live = await api.client.get("/health/live")
    ready = await _ready(api)

    assert (live.status_code, live.json()) == (200, {"status": "live"})
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert (body["status"], body["failed"]) == ("ready", [])
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "kafka": "up",
        "opensearch": "up",
    }


async def test_kafka_at_a_closed_port_is_not_ready(
    stack: Stack, api_settings: Settings
) -> None:
    async with running_api(_kafka_at(api_settings, _closed_port())) as api:
        live = await api.client.get("/health/live")
        ready = await _ready(api)

    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert (body["status"], body["failed"]) == ("unavailable", ["kafka"])
    assert body["checks"]["kafka"]["status"] == "down"
    assert body["checks"]["kafka"]["error"].startswith("unreachable")
    assert body["checks"]["opensearch"]["status"] == "up"


async def test_opensearch_at_a_closed_port_is_not_ready(
    stack: Stack, api_settings: Settings
) -> None:
    async with running_api(_opensearch_at(api_settings, _closed_port())) as api:
        live = await api.client.get("/health/live")
        ready = await _ready(api)

    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["opensearch"]
    assert ready.json()["checks"]["kafka"]["status"] == "up"


async def test_a_silent_dependency_is_not_ready_within_the_bound(
    stack: Stack, api_settings: Settings
) -> None:
    async with (
        _silent_listener() as port,
        running_api(_opensearch_at(api_settings, port)) as api,
    ):
        started = time.monotonic()
        ready = await _ready(api)
        elapsed = time.monotonic() - started

    assert ready.status_code == 503
    check = ready.json()["checks"]["opensearch"]
    assert check == {
        "status": "down",
        "seconds": check["seconds"],
        "error": f"no answer within {TIMEOUT_S:g}s",
    }
    assert elapsed < TIMEOUT_S + 1


async def test_metrics_count_answers_by_route_and_status(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    accepted = await kafka_api.reindex("acme", token)
    refused = await kafka_api.reindex("acme")
    await kafka_api.client.get("/no/such/path")

    response = await kafka_api.client.get("/metrics")

    assert (accepted.status_code, refused.status_code) == (204, 401)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    route = ("route", REINDEX_ROUTE)
    requests = "indexer_api_requests_total"
    assert samples[(requests, (("method", "POST"), route, ("status", "204")))] == 1
    assert samples[(requests, (("method", "POST"), route, ("status", "401")))] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[(requests, unmatched)] == 1
    assert samples[("indexer_api_commands_published_total", ())] == 1
    assert samples[("indexer_api_command_publish_failures_total", ())] == 0
    assert samples[("indexer_api_request_seconds_count", (route,))] == 2


async def test_metrics_count_publish_failures(
    stack: Stack, kafka_settings: Settings
) -> None:
    async with running_api(_kafka_at(kafka_settings, _closed_port())) as api:
        api.register("billing")
        token = await api.token("billing")
        refused = await api.reindex("acme", token)
        text = (await api.client.get("/metrics")).text

    assert refused.status_code == 503
    samples = _samples(text)
    assert samples[("indexer_api_command_publish_failures_total", ())] == 1
    assert samples[("indexer_api_commands_published_total", ())] == 0
    status = ("status", "503")
    key = (("method", "POST"), ("route", REINDEX_ROUTE), status)
    assert samples[("indexer_api_requests_total", key)] == 1
