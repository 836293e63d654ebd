"""A reindex job followed through the API while a real worker builds it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from indexer.settings import AuthSettings
from tests.api.support import running_api
from tests.world import World, catalog

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TIMEOUT_S = 120.0
SLICE = 400


async def test_a_job_goes_from_pending_to_success(
    world: World, auth_settings: AuthSettings
) -> None:
    documents = catalog("decathlon", SLICE)
    world.start_worker()
    await world.publish("decathlon", documents)
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)
    settings = world.settings.model_copy(update={"auth": auth_settings})

    async with running_api(settings) as api:
        api.register("billing", tenants=("decathlon",))
        token = await api.token("billing")
        created = await api.create_job(token, "decathlon")
        location = created.headers["location"]
        statuses = [created.json()["status"]]
        job: dict[str, Any] = created.json()
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S
        while job["status"] not in ("SUCCESS", "FAILURE"):
            assert asyncio.get_running_loop().time() < deadline, job
            world.check_workers()
            await asyncio.sleep(0.2)
            job = (await api.job(token, location)).json()
            if job["status"] != statuses[-1]:
                statuses.append(job["status"])

    assert created.status_code == 201
    assert statuses[0] == "PENDING"
    assert statuses[-1] == "SUCCESS", job
    assert set(statuses) <= {"PENDING", "IN_PROGRESS", "SUCCESS"}
    assert job["processedCount"] == job["expectedCount"] == SLICE
    assert "message" not in job
    completed = [e for e in await world.events() if e["type"] == "ReindexCompleted"]
    assert [e["commandIds"] for e in completed] == [[job["id"]]]
    assert completed[0]["documents"] == SLICE
    assert await world.documents("decathlon") == world.oracle.of("decathlon")
