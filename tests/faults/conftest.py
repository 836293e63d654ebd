"""Fixtures of the fault tests: proxies in front of OpenSearch, a private stack.

The shared Kafka and OpenSearch are never stopped or slowed: a worker is cut
from OpenSearch by a proxy of the test's own, and Kafka restarts happen on a
private stack started once for the session on free loopback ports.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from opensearchpy import AsyncOpenSearch

from indexer.errors import IndexerError
from indexer.kafka import ensure_topics, project_topics
from indexer.settings import Settings
from indexer.stack import Stack
from tests.faults.proxies import TcpProxy, ThrottlingProxy, address_of
from tests.world import World

PORT_ATTEMPTS = 50


@pytest_asyncio.fixture
async def search_proxy(world: World) -> AsyncIterator[TcpProxy]:
    """A TCP proxy to the shared OpenSearch; point a worker at ``proxy.url``."""
    proxy = TcpProxy(address_of(world.settings.opensearch.url))
    yield proxy
    _stop_workers(world)
    proxy.close()


@pytest_asyncio.fixture
async def throttling_proxy(world: World) -> AsyncIterator[ThrottlingProxy]:
    """An HTTP proxy to the shared OpenSearch that can answer 429 to bulks."""
    proxy = ThrottlingProxy(world.settings.opensearch.url)
    yield proxy
    _stop_workers(world)
    proxy.close()


def _stop_workers(world: World) -> None:
    """Workers stop while their proxy still answers, so they stop quickly."""
    for worker in world.workers:
        worker.stop()


@dataclass(frozen=True)
class PrivateStack:
    stack: Stack
    settings: Settings


@pytest.fixture(scope="session")
def private_stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateStack]:
    """A Kafka and an OpenSearch of this session alone, wiped at the end.

    They reuse the jars the shared stack downloaded, through a symlink.
    """
    root = tmp_path_factory.mktemp("private-stack")
    (root / "downloads").symlink_to(settings.stack_home.parent / "downloads")
    kafka_port = _free_ports(1)
    search_port = _free_ports(100)
    private = Settings.model_validate(
        {
            **settings.model_dump(),
            "kafka": {
                **settings.kafka.model_dump(),
                "bootstrap_servers": f"127.0.0.1:{kafka_port}",
            },
            "opensearch": {
                **settings.opensearch.model_dump(),
                "url": f"http://127.0.0.1:{search_port}",
            },
            "stack_home": root / "stack",
        }
    )
    stack = Stack(private)
    try:
        stack.up()
    except IndexerError as exc:
        pytest.fail(f"the private stack did not start: {exc}", pytrace=False)
    yield PrivateStack(stack, private)
    stack.down(wipe=True)
    shutil.rmtree(root, ignore_errors=True)


def _free_ports(offset: int) -> int:
    """A port free both itself and at ``port + offset`` (a server's second port)."""
    for _ in range(PORT_ATTEMPTS):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port + offset < 65536 and _is_free(port) and _is_free(port + offset):
            return port
    pytest.fail("found no pair of free loopback ports")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest_asyncio.fixture(scope="session")
async def private_opensearch(
    private_stack: PrivateStack,
) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(hosts=[private_stack.settings.opensearch.url])
    yield client
    await client.close()


@pytest_asyncio.fixture
async def private_world(
    private_stack: PrivateStack,
    private_opensearch: AsyncOpenSearch,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """Like ``world``, on the private stack: its broker may be restarted."""
    base = private_stack.settings
    name = f"p{uuid.uuid4().hex[:10]}"
    env = {
        "INDEXER_KAFKA__BOOTSTRAP_SERVERS": base.kafka.bootstrap_servers,
        "INDEXER_OPENSEARCH__URL": base.opensearch.url,
        "INDEXER_OPENSEARCH__INDEX_PREFIX": name,
        "INDEXER_WORKER__APP_ID": f"{name}-worker",
        "INDEXER_WORKER__DATA_DIR": str(tmp_path / "worker-data"),
    }
    topics = {
        "changelog": f"{name}.products.changelog",
        "commands": f"{name}.indexing.commands",
        "events": f"{name}.indexing.events",
        "deadletter": f"{name}.products.deadletter",
        "builds": f"{name}.indexing.builds",
    }
    env |= {f"INDEXER_TOPICS__{kind.upper()}": topic for kind, topic in topics.items()}
    isolated = Settings.model_validate(
        {
            **base.model_dump(),
            "topics": {**base.topics.model_dump(), **topics},
            "opensearch": {**base.opensearch.model_dump(), "index_prefix": name},
            "worker": {**base.worker.model_dump(), "app_id": f"{name}-worker"},
        }
    )
    await ensure_topics(isolated, project_topics(isolated))
    world = World(isolated, env, tmp_path, private_opensearch)
    yield world

    for worker in world.workers:
        worker.stop()
    await private_opensearch.indices.delete(
        index=f"{name}-*", ignore_unavailable=True, expand_wildcards="all"
    )
