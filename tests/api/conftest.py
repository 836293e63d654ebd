"""Fixtures of the API tests: per-test settings, files, topics and apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from indexer.settings import ApiSettings, AuthSettings, Settings
from tests.api.support import Api, RecordingPublisher, running_api
from tests.conftest import TopicFactory


@pytest.fixture
def auth_settings(tmp_path: Path) -> AuthSettings:
    return AuthSettings(
        clients_file=tmp_path / "auth" / "clients.json",
        signing_key_file=tmp_path / "auth" / "signing-key.pem",
    )


@pytest.fixture
def api_settings(settings: Settings, auth_settings: AuthSettings) -> Settings:
    """The session settings with this test's own auth files."""
    return settings.model_copy(
        update={"auth": auth_settings, "api": ApiSettings(publish_timeout_s=5.0)}
    )


@pytest_asyncio.fixture
async def commands_topic(new_topic: TopicFactory) -> str:
    return await new_topic(partitions=1)


@pytest_asyncio.fixture
async def events_topic(new_topic: TopicFactory) -> str:
    return await new_topic(partitions=1)


@pytest.fixture
def kafka_settings(
    api_settings: Settings, commands_topic: str, events_topic: str
) -> Settings:
    """Settings whose commands and events topics are this test's fresh topics."""
    topics = api_settings.topics.model_copy(
        update={"commands": commands_topic, "events": events_topic}
    )
    return api_settings.model_copy(update={"topics": topics})


@pytest_asyncio.fixture
async def kafka_api(kafka_settings: Settings) -> AsyncIterator[Api]:
    """The app writing to the real Kafka, on this test's topic."""
    async with running_api(kafka_settings) as api:
        api.register("billing")
        yield api


@pytest.fixture
def recorder(api_settings: Settings) -> RecordingPublisher:
    return RecordingPublisher(api_settings)


@pytest_asyncio.fixture
async def api(
    api_settings: Settings, recorder: RecordingPublisher
) -> AsyncIterator[Api]:
    """The app with commands kept in ``recorder``: no Kafka needed."""
    async with running_api(api_settings, recorder) as api:
        api.register("billing")
        yield api
