"""Nothing but the contract's shapes reaches a client, not even on a bug."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from indexer.settings import Settings
from tests.api.support import Api, FailingPublisher, RecordingPublisher, running_api

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def broken_api(api_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(api_settings, FailingPublisher(api_settings)) as api:
        api.register("billing")
        yield api


async def test_a_bug_is_a_bare_500(
    broken_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = await broken_api.token("billing")

    response = await broken_api.reindex("acme", token)

    assert response.status_code == 500
    assert response.json() == {
        "code": 500,
        "status": "Internal Server Error",
        "message": "Internal server error",
        "details": [],
    }
    assert "secret/path" not in response.text
    assert "Traceback" not in response.text
    assert "secret/path" in caplog.text


async def test_recording_publisher_sees_the_command(
    api: Api, recorder: RecordingPublisher
) -> None:
    token = await api.token("billing")

    response = await api.reindex("acme", token, json={"mode": "FULL"})

    assert response.status_code == 204
    assert [command.tenant for command in recorder.commands] == ["acme"]
