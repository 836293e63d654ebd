"""``/indexing/{tenant}/reindex-jobs`` against the real Kafka.

Jobs are created through the API, moved by events published to the test's own
events topic, and read back; every refusal leaves the commands topic as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from indexer.events import (
    ReindexCompleted,
    ReindexFailed,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)
from indexer.events.models import Model
from indexer.kafka import Producer
from indexer.settings import Settings
from tests.api.support import Api, commands_in, read_topic, running_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

BAD_REQUEST = "Request was syntactically incorrect"
FOLLOW_TIMEOUT_S = 15.0
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _publish(settings: Settings, topic: str, *messages: Model) -> None:
    async with Producer(settings.kafka, "tests") as producer:
        for message in messages:
            tenant: str = getattr(message, "tenant")  # noqa: B009 - every one has it
            await producer.send(topic, message.to_bytes(), key=tenant.encode())


async def _events(api: Api, *events: Model) -> None:
    await _publish(api.settings, api.settings.topics.events, *events)


async def _commands(api: Api) -> list[ReindexRequested]:
    topic = api.settings.topics.commands
    return commands_in(await read_topic(api.settings, topic))


async def _until(
    api: Api, token: str, location: str, **expected: Any
) -> dict[str, Any]:
    """The job at ``location`` once its fields equal ``expected``."""
    deadline = asyncio.get_running_loop().time() + FOLLOW_TIMEOUT_S
    job: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        response = await api.job(token, location)
        assert response.status_code in (200, 404), response.text
        job = response.json()
        if response.status_code == 200 and all(
            job.get(name) == value for name, value in expected.items()
        ):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"the job never had {expected}: {job}")


def _started(tenant: str, *command_ids: str, generation: str = "g-1") -> Model:
    return ReindexStarted(
        tenant=tenant,
        command_ids=list(command_ids),
        generation=generation,
        alias=f"products-{tenant}",
        started_at=T0,
    )


def _progress(tenant: str, processed: int, expected: int, *ids: str) -> Model:
    return ReindexProgress(
        tenant=tenant,
        command_ids=list(ids),
        generation="g-1",
        processed=processed,
        expected=expected,
        reported_at=T0 + timedelta(seconds=processed),
    )


def _completed(tenant: str, *command_ids: str) -> Model:
    return ReindexCompleted(
        tenant=tenant,
        command_ids=list(command_ids),
        generation="g-1",
        alias=f"products-{tenant}",
        indexed=100,
        deleted=0,
        rejected=0,
        documents=100,
        started_at=T0,
        completed_at=T0 + timedelta(minutes=5),
        duration_s=300.0,
    )


def _failed(tenant: str, reason: str, *command_ids: str) -> Model:
    return ReindexFailed(
        tenant=tenant,
        command_ids=list(command_ids),
        generation="g-1",
        alias=f"products-{tenant}",
        reason=reason,
        started_at=T0,
        failed_at=T0 + timedelta(minutes=1),
    )


async def test_a_job_is_created_once_while_it_is_pending(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")

    created = await kafka_api.create_job(token)
    again = await kafka_api.create_job(token)

    assert created.status_code == 201, created.text
    job = created.json()
    assert job["entityType"] == "PRODUCT"
    assert (job["status"], job["expectedCount"], job["processedCount"]) == (
        "PENDING",
        0,
        0,
    )
    assert "message" not in job
    assert job["metadata"]["createdAt"] == job["metadata"]["modifiedAt"]
    assert created.headers["location"] == f"/indexing/acme/reindex-jobs/{job['id']}"
    assert again.status_code == 200
    assert again.json() == job
    assert again.headers["location"] == created.headers["location"]
    [command] = await _commands(kafka_api)
    assert (command.command_id, command.tenant, command.requested_by) == (
        job["id"],
        "acme",
        "billing",
    )


async def test_concurrent_creations_make_one_job(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")

    answers = await asyncio.gather(*(kafka_api.create_job(token) for _ in range(5)))

    assert sorted(answer.status_code for answer in answers) == [200] * 4 + [201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(await _commands(kafka_api)) == 1


async def test_a_job_in_progress_is_answered_with_200(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    created = (await kafka_api.create_job(token)).json()
    location = f"/indexing/acme/reindex-jobs/{created['id']}"
    await _events(kafka_api, _started("acme", created["id"]))
    await _until(kafka_api, token, location, status="IN_PROGRESS")

    again = await kafka_api.create_job(token)

    assert again.status_code == 200
    assert again.json()["id"] == created["id"]
    assert again.json()["status"] == "IN_PROGRESS"
    assert len(await _commands(kafka_api)) == 1


async def test_a_new_job_once_the_last_one_ended(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    first = (await kafka_api.create_job(token)).json()
    location = f"/indexing/acme/reindex-jobs/{first['id']}"
    await _events(kafka_api, _started("acme", first["id"]))
    await _events(kafka_api, _completed("acme", first["id"]))
    await _until(kafka_api, token, location, status="SUCCESS")

    second = await kafka_api.create_job(token)

    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    assert second.json()["status"] == "PENDING"
    commands = await _commands(kafka_api)
    assert [c.command_id for c in commands] == [first["id"], second.json()["id"]]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"json": {"entityType": "CATEGORY"}}, "entityType must be PRODUCT"),
        ({"json": {}}, "entityType must be PRODUCT"),
        ({"json": {"entityType": "product"}}, "entityType must be PRODUCT"),
        ({"json": ["PRODUCT"]}, "The body must be a JSON object"),
        (
            {"content": b"", "headers": {}},
            "The body must be application/json, not untyped",
        ),
        (
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
            "The body is not valid JSON",
        ),
    ],
    ids=["other-entity", "no-entity", "lowercase", "array", "no-body", "truncated"],
)
async def test_a_bad_creation_is_400(
    kafka_api: Api, body: dict[str, Any], detail: str
) -> None:
    token = await kafka_api.token("billing")
    headers = {"Authorization": f"Bearer {token}", **body.pop("headers", {})}

    response = await kafka_api.client.post(
        "/indexing/acme/reindex-jobs", headers=headers, **body
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "status": "Bad Request",
        "message": BAD_REQUEST,
        "details": [detail],
    }
    assert await _commands(kafka_api) == []
    assert (await kafka_api.jobs(token)).json() == []


async def _reindex_three(api: Api, token: str) -> list[str]:
    """Three jobs through the seed endpoint, oldest first, by id."""
    ids = []
    for _ in range(3):
        response = await api.reindex("acme", token)
        assert response.status_code == 204
        ids.append(response.headers["location"].rsplit("/", 1)[1])
    return ids


async def test_jobs_are_listed_newest_first_in_pages(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    oldest, middle, newest = await _reindex_three(kafka_api, token)

    everything = await kafka_api.jobs(token)
    first = await kafka_api.jobs(token, pageSize=2)
    second = await kafka_api.jobs(token, pageSize=2, pageNumber=2)
    beyond = await kafka_api.jobs(token, pageSize=2, pageNumber=3)

    assert everything.status_code == 200
    assert [job["id"] for job in everything.json()] == [newest, middle, oldest]
    assert everything.headers["x-total-count"] == "3"
    assert [job["id"] for job in first.json()] == [newest, middle]
    assert [job["id"] for job in second.json()] == [oldest]
    assert beyond.status_code == 200
    assert beyond.json() == []
    assert beyond.headers["x-total-count"] == "3"


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"pageNumber": "0"}, "pageNumber must be an integer from 1 to 2147483647"),
        ({"pageNumber": "-1"}, "pageNumber must be an integer from 1 to 2147483647"),
        ({"pageNumber": "one"}, "pageNumber must be an integer from 1 to 2147483647"),
        ({"pageNumber": ""}, "pageNumber must be an integer from 1 to 2147483647"),
        (
            {"pageNumber": "2147483648"},
            "pageNumber must be an integer from 1 to 2147483647",
        ),
        ({"pageSize": "0"}, "pageSize must be an integer from 1 to 2000"),
        ({"pageSize": "2001"}, "pageSize must be an integer from 1 to 2000"),
        ({"pageSize": "1.5"}, "pageSize must be an integer from 1 to 2000"),
    ],
)
async def test_bad_paging_is_400(
    kafka_api: Api, params: dict[str, str], detail: str
) -> None:
    token = await kafka_api.token("billing")
    assert (await kafka_api.reindex("acme", token)).status_code == 204

    response = await kafka_api.jobs(token, **params)

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "status": "Bad Request",
        "message": BAD_REQUEST,
        "details": [detail],
    }
    assert len((await kafka_api.jobs(token, pageSize=2000)).json()) == 1


async def test_an_unknown_job_is_404(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.job(token, f"/indexing/acme/reindex-jobs/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "status": "Not Found",
        "message": "Resource not found",
        "details": ["No reindex job with this id"],
    }


async def test_another_tenants_job_is_not_found(kafka_api: Api) -> None:
    kafka_api.register("shop", tenants=("alpha", "beta"))
    alpha = await kafka_api.token("shop", "tenant=alpha indexing.search_manage")
    beta = await kafka_api.token("shop", "tenant=beta indexing.search_manage")
    job = (await kafka_api.create_job(alpha, "alpha")).json()

    as_beta = await kafka_api.job(beta, f"/indexing/beta/reindex-jobs/{job['id']}")
    beta_jobs = await kafka_api.jobs(beta, "beta")
    crossed = await kafka_api.job(alpha, f"/indexing/beta/reindex-jobs/{job['id']}")
    alpha_jobs = await kafka_api.jobs(alpha, "alpha")

    assert as_beta.status_code == 404
    assert as_beta.json()["message"] == "Resource not found"
    assert beta_jobs.json() == []
    assert crossed.status_code == 403
    assert crossed.json()["message"] == "Tenant validation failed"
    assert [j["id"] for j in alpha_jobs.json()] == [job["id"]]


async def test_a_token_of_one_tenant_cannot_create_on_another(kafka_api: Api) -> None:
    kafka_api.register("shop", tenants=("alpha", "beta"))
    alpha = await kafka_api.token("shop", "tenant=alpha indexing.search_manage")

    response = await kafka_api.create_job(alpha, "beta")
    listing = await kafka_api.jobs(alpha, "beta")

    assert response.status_code == 403
    assert response.json()["details"] == [
        "The access token is not valid for tenant 'beta'"
    ]
    assert listing.status_code == 403
    assert await _commands(kafka_api) == []


async def test_view_scope_reads_but_does_not_create(kafka_api: Api) -> None:
    kafka_api.register("viewer", scopes=("indexing.search_view",))
    viewer = await kafka_api.token("viewer")
    manager = await kafka_api.token("billing")
    job = (await kafka_api.create_job(manager)).json()

    listing = await kafka_api.jobs(viewer)
    read = await kafka_api.job(viewer, f"/indexing/acme/reindex-jobs/{job['id']}")
    refused = await kafka_api.create_job(viewer)

    assert listing.status_code == 200
    assert listing.json() == [job]
    assert read.status_code == 200
    assert read.json() == job
    assert refused.status_code == 403
    assert refused.json() == {
        "code": 403,
        "status": "Forbidden",
        "message": "Scope validation failed",
        "details": ["Missing required scopes '[indexing.search_manage]'"],
    }
    assert [c.command_id for c in await _commands(kafka_api)] == [job["id"]]


async def test_a_job_follows_its_build(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    job = (await kafka_api.create_job(token)).json()
    location = f"/indexing/acme/reindex-jobs/{job['id']}"

    await _events(kafka_api, _started("acme", job["id"]))
    started = await _until(kafka_api, token, location, status="IN_PROGRESS")
    await _events(kafka_api, _progress("acme", 40, 100, job["id"]))
    halfway = await _until(kafka_api, token, location, processedCount=40)
    await _events(kafka_api, _completed("acme", job["id"]))
    done = await _until(kafka_api, token, location, status="SUCCESS")

    assert (started["processedCount"], started["expectedCount"]) == (0, 0)
    assert started["metadata"]["modifiedAt"] == "2026-03-01T12:00:00.000Z"
    assert (halfway["status"], halfway["expectedCount"]) == ("IN_PROGRESS", 100)
    assert halfway["metadata"]["modifiedAt"] == "2026-03-01T12:00:40.000Z"
    assert (done["processedCount"], done["expectedCount"]) == (100, 100)
    assert done["metadata"]["modifiedAt"] == "2026-03-01T12:05:00.000Z"
    assert done["metadata"]["createdAt"] == job["metadata"]["createdAt"]
    assert "message" not in done


async def test_a_failed_job_says_why(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    job = (await kafka_api.create_job(token)).json()
    location = f"/indexing/acme/reindex-jobs/{job['id']}"

    await _events(
        kafka_api,
        _started("acme", job["id"]),
        _progress("acme", 10, 100, job["id"]),
        _failed("acme", "the generation did not verify", job["id"]),
        _completed("acme", job["id"]),
    )
    failed = await _until(kafka_api, token, location, status="FAILURE")
    await asyncio.sleep(0.5)
    later = await kafka_api.job(token, location)

    assert failed["message"] == "the generation did not verify"
    assert (failed["processedCount"], failed["expectedCount"]) == (10, 100)
    assert failed["metadata"]["modifiedAt"] == "2026-03-01T12:01:00.000Z"
    assert later.json() == failed


async def test_a_command_that_joined_a_build_takes_its_counts(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    first = (await kafka_api.create_job(token)).json()
    await _events(kafka_api, _started("acme", first["id"]))
    await _until(
        kafka_api,
        token,
        f"/indexing/acme/reindex-jobs/{first['id']}",
        status="IN_PROGRESS",
    )
    response = await kafka_api.reindex("acme", token)
    joined = response.headers["location"]

    await _events(
        kafka_api,
        _progress("acme", 100, 100, first["id"]),
        _completed("acme", first["id"], joined.rsplit("/", 1)[1]),
    )
    done = await _until(kafka_api, token, joined, status="SUCCESS")

    assert (done["processedCount"], done["expectedCount"]) == (100, 100)


async def test_events_read_before_their_command_wait_for_it(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    command = ReindexRequested(tenant="acme", requested_by="catalog-service")
    await _events(
        kafka_api,
        _started("acme", command.command_id),
        _progress("acme", 100, 100, command.command_id),
        _completed("acme", command.command_id),
    )
    await asyncio.sleep(1.0)
    before = await kafka_api.jobs(token)

    await _publish(kafka_api.settings, kafka_api.settings.topics.commands, command)
    location = f"/indexing/acme/reindex-jobs/{command.command_id}"
    done = await _until(kafka_api, token, location, status="SUCCESS")

    assert before.json() == []
    assert (done["processedCount"], done["expectedCount"]) == (100, 100)
    assert done["metadata"]["modifiedAt"] == "2026-03-01T12:05:00.000Z"


async def test_a_restarted_api_rebuilds_the_same_jobs(kafka_settings: Settings) -> None:
    async with running_api(kafka_settings) as api:
        api.register("billing")
        token = await api.token("billing")
        succeeded, failed, pending = await _reindex_three(api, token)
        await _events(
            api,
            _started("acme", succeeded),
            _completed("acme", succeeded),
            _started("acme", failed),
            _failed("acme", "no space left", failed),
        )
        await _until(
            api, token, f"/indexing/acme/reindex-jobs/{failed}", status="FAILURE"
        )
        await _until(
            api, token, f"/indexing/acme/reindex-jobs/{succeeded}", status="SUCCESS"
        )
        before = (await api.jobs(token)).json()

    async with running_api(kafka_settings) as restarted:
        after = await restarted.jobs(token)

    assert after.status_code == 200
    assert after.json() == before
    assert [job["id"] for job in before] == [pending, failed, succeeded]
    assert [job["status"] for job in before] == ["PENDING", "FAILURE", "SUCCESS"]


async def test_the_location_of_a_reindex_is_its_job(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.reindex("acme", token)
    job = await kafka_api.job(token, response.headers["location"])

    assert response.status_code == 204
    assert response.content == b""
    [command] = await _commands(kafka_api)
    assert job.status_code == 200
    assert job.json()["id"] == command.command_id
    assert job.json()["status"] == "PENDING"
    assert response.headers["location"] == (
        f"/indexing/acme/reindex-jobs/{command.command_id}"
    )


async def test_a_job_another_service_just_created_is_answered(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    assert (await kafka_api.jobs(token)).json() == []
    command = ReindexRequested(tenant="acme", requested_by="catalog-service")

    await _publish(kafka_api.settings, kafka_api.settings.topics.commands, command)
    response = await kafka_api.create_job(token)

    assert response.status_code == 200
    assert response.json()["id"] == command.command_id
    assert [c.command_id for c in await _commands(kafka_api)] == [command.command_id]


async def test_a_job_that_just_ended_is_not_answered(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    first = (await kafka_api.create_job(token)).json()

    await _events(
        kafka_api, _started("acme", first["id"]), _completed("acme", first["id"])
    )
    response = await kafka_api.create_job(token)

    assert response.status_code == 201
    assert response.json()["id"] != first["id"]
    assert len(await _commands(kafka_api)) == 2
