"""Kafka faults on the private stack: its broker stops and starts again.

The worker and the API keep their processes and clients; they must reconnect
by themselves. The final state is compared with the oracle, and every 204 of
the API with the commands the topic holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from indexer.events import ReindexRequested
from indexer.settings import ApiSettings, AuthSettings, Settings
from tests.api.support import running_api
from tests.faults.conftest import PrivateStack
from tests.faults.support import (
    FAST_GROUP,
    SLOW_REWIND,
    TIMEOUT_S,
    ChangeStream,
    catalog,
    live_generation,
    outcomes_of,
    partly_built,
)
from tests.world import World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

AWAY_S = 8.0


@dataclass
class Restart:
    """When the broker was away: from its stop returning to its start beginning."""

    stopped_at: float = 0.0
    starting_at: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def restart_broker(private: PrivateStack, away_s: float = AWAY_S) -> Restart:
    restart = Restart()
    await asyncio.to_thread(private.stack.down, ["kafka"])
    restart.stopped_at = time.monotonic()
    await asyncio.sleep(away_s)
    restart.starting_at = time.monotonic()
    await asyncio.to_thread(private.stack.up)
    restart.done.set()
    return restart


async def test_a_broker_restart_while_indexing_loses_nothing(
    private_world: World, private_stack: PrivateStack
) -> None:
    world = private_world
    tenants = ["decathlon", "amazontoys"]
    for tenant in tenants:
        await world.publish(tenant, catalog(tenant, 500))
    worker = world.start_worker(**FAST_GROUP)
    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    stream = ChangeStream(world, tenants, per_round=50, pause_s=0.1)

    publishing = asyncio.create_task(stream.run(duration_s=25))
    await asyncio.sleep(5)
    await restart_broker(private_stack)
    await publishing

    for tenant in tenants:
        expected = world.oracle.of(tenant)
        assert await world.wait_for(tenant, expected, TIMEOUT_S) == expected
    assert world.workers == [worker]
    assert worker.process.poll() is None, worker.tail()
    assert stream.published > 1000


async def test_a_broker_restart_during_a_reindex_completes_it(
    private_world: World, private_stack: PrivateStack
) -> None:
    world = private_world
    documents = catalog("myntra", 3000)
    worker = world.start_worker(**SLOW_REWIND)
    await world.publish("myntra", documents)
    expected = world.oracle.of("myntra")
    assert await world.wait_for("myntra", expected, TIMEOUT_S) == expected
    before = await live_generation(world, "myntra")
    command = ReindexRequested(tenant="myntra", requested_by="fault-tests")

    await world.command(command)
    generation = await _started(world, command.command_id)
    await partly_built(world, generation, len(documents))
    await restart_broker(private_stack)
    completed = await _completed_or_retried(world, command)

    assert completed["documents"] == len(documents)
    assert completed["generation"] != before
    assert await live_generation(world, "myntra") == completed["generation"]
    assert await world.documents("myntra") == expected
    assert worker.process.poll() is None, worker.tail()


async def _started(world: World, command_id: str) -> str:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for event in await outcomes_of(world, command_id):
            if event["type"] == "ReindexStarted":
                return str(event["generation"])
        await asyncio.sleep(0.2)
    pytest.fail(f"no ReindexStarted for {command_id}")


async def _completed_or_retried(
    world: World, command: ReindexRequested
) -> dict[str, object]:
    """The ReindexCompleted naming the command, or of its retry after a failure."""
    ids = [command.command_id]
    deadline = time.monotonic() + 2 * TIMEOUT_S
    while time.monotonic() < deadline:
        events = await _events_of(world, ids[-1])
        if any(e["type"] == "ReindexCompleted" for e in events):
            return next(e for e in events if e["type"] == "ReindexCompleted")
        if any(e["type"] == "ReindexFailed" for e in events) and len(ids) < 3:
            retry = ReindexRequested(tenant=command.tenant, requested_by="retry")
            await world.command(retry)
            ids.append(retry.command_id)
        await asyncio.sleep(0.5)
    pytest.fail(f"the reindex never completed: commands {ids}")


async def _events_of(world: World, command_id: str) -> list[dict[str, object]]:
    """The events naming the command; none while the topic cannot be read."""
    try:
        return await asyncio.wait_for(outcomes_of(world, command_id), 20)
    except Exception:  # the broker may still be starting
        return []


@dataclass
class Answer:
    sent_at: float
    answered_at: float
    status: int
    command_id: str | None


async def test_the_api_answers_503_while_the_broker_is_away(
    private_world: World, private_stack: PrivateStack, tmp_path: Path
) -> None:
    settings = _api_settings(private_world.settings, tmp_path)
    answers: list[Answer] = []

    async with running_api(settings) as api:
        api.register("billing")
        token = await api.token("billing")

        async def call() -> Answer:
            sent_at = time.monotonic()
            response = await api.reindex("acme", token)
            location = response.headers.get("location", "")
            command_id = location.rsplit("/", 1)[-1] if location else None
            answer = Answer(sent_at, time.monotonic(), response.status_code, command_id)
            answers.append(answer)
            return answer

        for _ in range(3):
            await call()
        restarting = asyncio.create_task(restart_broker(private_stack, away_s=10))
        while not restarting.done():
            await call()
            await asyncio.sleep(0.3)
        restart = await restarting
        back = await _until_204(call)
        for _ in range(3):
            await call()

    while_away = [
        a
        for a in answers
        if a.sent_at >= restart.stopped_at and a.answered_at <= restart.starting_at
    ]
    assert while_away, "no request was answered while the broker was away"
    assert {a.status for a in while_away} == {503}
    assert [a.status for a in answers[:3]] == [204] * 3
    assert back.status == 204
    assert [a.status for a in answers[-3:]] == [204] * 3
    assert {a.status for a in answers} <= {204, 503}
    written = await _commands_on_topic(private_world)
    accepted = {a.command_id for a in answers if a.status == 204}
    assert None not in accepted
    assert accepted <= written, f"204 for unwritten commands: {accepted - written}"


def _api_settings(settings: Settings, folder: Path) -> Settings:
    auth = AuthSettings(
        clients_file=folder / "auth" / "clients.json",
        signing_key_file=folder / "auth" / "signing-key.pem",
    )
    kafka = settings.kafka.model_copy(update={"request_timeout_s": 2.0})
    api = ApiSettings(publish_timeout_s=3.0)
    return settings.model_copy(update={"auth": auth, "api": api, "kafka": kafka})


async def _until_204(call: Callable[[], Awaitable[Answer]]) -> Answer:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        answer = await call()
        if answer.status == 204:
            return answer
        await asyncio.sleep(0.5)
    pytest.fail("the API never answered 204 after the broker came back")


async def _commands_on_topic(world: World) -> set[str]:
    records = await world.read_topic(world.settings.topics.commands)
    return {
        ReindexRequested.model_validate_json(value).command_id
        for _, value in records
        if value is not None
    }
