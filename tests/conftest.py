"""Fixtures for tests against the project's real Kafka and OpenSearch.

The ``stack`` fixture starts the local servers once per session, or finds them
running. A test that needs them fails, never skips, when they cannot start.
``new_topic`` and ``new_index`` hand each test fresh, uniquely named resources
and delete them afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code
from opensearchpy import AsyncOpenSearch

from indexer.errors import IndexerError
from indexer.kafka import ensure_topics, project_topics
from indexer.settings import Settings
from indexer.stack import Stack
from tests.world import World

TOPIC_READY_TIMEOUT_S = 15.0


class TopicFactory(Protocol):
    async def __call__(
        self, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> str: ...


class IndexFactory(Protocol):
    async def __call__(
        self, body: Mapping[str, Any] | None = None, *, create: bool = True
    ) -> str: ...


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Defaults plus any ``INDEXER_*`` variables; copy it before changing it."""
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Stack:
    stack = Stack(settings)
    try:
        stack.up()
    except IndexerError as exc:
        pytest.fail(
            f"the local Kafka and OpenSearch could not start ({exc}); "
            "run `indexer stack up` to see why",
            pytrace=False,
        )
    return stack


@pytest_asyncio.fixture(scope="session")
async def kafka_admin(
    stack: Stack, settings: Settings
) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers, client_id="indexer-tests"
    )
    await admin.start()
    yield admin
    await admin.close()


@pytest_asyncio.fixture(scope="session")
async def opensearch(
    stack: Stack, settings: Settings
) -> AsyncIterator[AsyncOpenSearch]:
    search = settings.opensearch
    auth = None
    if search.username and search.password:
        auth = (search.username, search.password.get_secret_value())
    client = AsyncOpenSearch(
        hosts=[search.url], http_auth=auth, timeout=search.request_timeout_s
    )
    yield client
    await client.close()


@pytest_asyncio.fixture
async def new_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[TopicFactory]:
    """``await new_topic(partitions, config)`` creates a topic and names it."""
    created: list[str] = []

    async def create(
        partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> str:
        name = f"test.{uuid.uuid4().hex[:12]}"
        topic = NewTopic(name, partitions, 1, topic_configs=dict(config or {}))
        response = await kafka_admin.create_topics([topic])
        _raise_topic_errors(response.to_object()["topic_errors"])
        created.append(name)
        await _wait_for_leaders(kafka_admin, name)
        return name

    yield create
    if created:
        await kafka_admin.delete_topics(created)


@pytest_asyncio.fixture
async def new_index(opensearch: AsyncOpenSearch) -> AsyncIterator[IndexFactory]:
    """``await new_index(body)`` creates an index and names it.

    With ``create=False`` it only reserves a fresh name. Teardown deletes every
    index whose name starts with it, so generations made from it go too.
    """
    names: list[str] = []

    async def create(
        body: Mapping[str, Any] | None = None, *, create: bool = True
    ) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        names.append(name)
        if create:
            await opensearch.indices.create(index=name, body=dict(body or {}))
        return name

    yield create
    for name in names:
        await opensearch.indices.delete(
            index=f"{name}*", ignore_unavailable=True, expand_wildcards="all"
        )


def _raise_topic_errors(errors: list[dict[str, Any]]) -> None:
    for error in errors:
        if error["error_code"] != 0:
            exception = for_code(error["error_code"])
            raise exception(f"{error['topic']}: {error['error_message']}")


async def _wait_for_leaders(admin: AIOKafkaAdminClient, name: str) -> None:
    deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        [topic] = await admin.describe_topics([name])
        partitions = topic["partitions"]
        if topic["error_code"] == 0 and all(p["leader"] >= 0 for p in partitions):
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"topic {name} has no leader after {TOPIC_READY_TIMEOUT_S:.0f} s")


@pytest_asyncio.fixture
async def world(
    *,
    stack: Stack,
    settings: Settings,
    kafka_admin: AIOKafkaAdminClient,
    opensearch: AsyncOpenSearch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[World]:
    name = f"t{uuid.uuid4().hex[:10]}"
    marker = request.node.get_closest_marker("layout")
    layout = {
        "changelog_spread": settings.topics.changelog_spread,
        "changelog_partitioning": settings.topics.changelog_partitioning,
        **{f"changelog_{k}": v for k, v in (marker.kwargs if marker else {}).items()},
    }
    env = {
        "INDEXER_TOPICS__CHANGELOG": f"{name}.products.changelog",
        "INDEXER_TOPICS__COMMANDS": f"{name}.indexing.commands",
        "INDEXER_TOPICS__EVENTS": f"{name}.indexing.events",
        "INDEXER_TOPICS__DEADLETTER": f"{name}.products.deadletter",
        "INDEXER_TOPICS__BUILDS": f"{name}.indexing.builds",
        "INDEXER_OPENSEARCH__INDEX_PREFIX": name,
        "INDEXER_WORKER__APP_ID": f"{name}-worker",
        "INDEXER_WORKER__DATA_DIR": str(tmp_path / "worker-data"),
        **{f"INDEXER_TOPICS__{k.upper()}": str(v) for k, v in layout.items()},
    }
    isolated = Settings.model_validate(
        {
            **settings.model_dump(),
            "topics": {
                **settings.topics.model_dump(),
                "changelog": env["INDEXER_TOPICS__CHANGELOG"],
                "commands": env["INDEXER_TOPICS__COMMANDS"],
                "events": env["INDEXER_TOPICS__EVENTS"],
                "deadletter": env["INDEXER_TOPICS__DEADLETTER"],
                "builds": env["INDEXER_TOPICS__BUILDS"],
                **layout,
            },
            "opensearch": {**settings.opensearch.model_dump(), "index_prefix": name},
            "worker": {**settings.worker.model_dump(), "app_id": f"{name}-worker"},
        }
    )
    specs = project_topics(isolated)
    await ensure_topics(isolated, specs)
    world = World(isolated, env, tmp_path, opensearch)
    yield world

    for worker in world.workers:
        worker.stop()
    await kafka_admin.delete_topics([spec.name for spec in specs])
    await opensearch.indices.delete(
        index=f"{name}-*", ignore_unavailable=True, expand_wildcards="all"
    )
