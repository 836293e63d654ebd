"""Kafka away: 503 within the bound, nothing written, and recovery when it is back.

The shared broker keeps running; the app is pointed at loopback ports this test
controls: a closed one, one that accepts and never answers, and a TCP proxy
to the real broker that starts mid-test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from indexer.api import CommandPublisher
from indexer.events import ReindexRequested
from indexer.kafka import Producer
from indexer.settings import KafkaSettings, Settings
from tests.api.support import commands_in, read_topic, running_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PUBLISH_TIMEOUT_S = 1.0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _pointed_at(settings: Settings, port: int) -> Settings:
    kafka = KafkaSettings.model_validate(
        {**settings.kafka.model_dump(), "bootstrap_servers": f"127.0.0.1:{port}"}
        | {"request_timeout_s": 2.0}
    )
    api = settings.api.model_copy(update={"publish_timeout_s": PUBLISH_TIMEOUT_S})
    return settings.model_copy(update={"kafka": kafka, "api": api})


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def _server(port: int, handler: Handler) -> AsyncIterator[None]:
    """A loopback server on ``port`` that closes its connections when left."""
    connections: list[asyncio.StreamWriter] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        await handler(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts a connection and never answers, like a hung broker."""
    try:
        await reader.read()
    finally:
        writer.close()


def _proxy_to(target: str) -> Handler:
    host, _, port = target.rpartition(":")

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            host, int(port)
        )
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer)
        )

    return handle


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def test_kafka_down_is_503_and_nothing_is_written(
    kafka_settings: Settings,
) -> None:
    settings = _pointed_at(kafka_settings, _closed_port())

    async with running_api(settings) as api:
        api.register("billing")
        token = await api.token("billing")
        started = time.monotonic()
        response = await api.reindex("acme", token)
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["code"] == 503
    assert set(response.json()) == {"code", "status", "message", "details"}
    assert elapsed < PUBLISH_TIMEOUT_S + 1
    assert await read_topic(kafka_settings, kafka_settings.topics.commands) == []


async def test_hung_kafka_is_503_within_the_bound(kafka_settings: Settings) -> None:
    port = _closed_port()
    settings = _pointed_at(kafka_settings, port)

    async with _server(port, _silent), running_api(settings) as api:
        api.register("billing")
        token = await api.token("billing")
        started = time.monotonic()
        response = await api.reindex("acme", token)
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert PUBLISH_TIMEOUT_S * 0.9 <= elapsed < PUBLISH_TIMEOUT_S + 1
    assert await read_topic(kafka_settings, kafka_settings.topics.commands) == []


async def test_api_recovers_when_kafka_comes_back(kafka_settings: Settings) -> None:
    port = _closed_port()
    settings = _pointed_at(kafka_settings, port)
    proxy = _proxy_to(kafka_settings.kafka.bootstrap_servers)

    async with running_api(settings) as api:
        api.register("billing")
        token = await api.token("billing")
        while_down = await api.reindex("acme", token)
        async with _server(port, proxy):
            when_back = await api.reindex("acme", token)
            again = await api.reindex("acme", token)

    assert while_down.status_code == 503
    assert (when_back.status_code, again.status_code) == (204, 204)
    records = await read_topic(kafka_settings, kafka_settings.topics.commands)
    assert [command.tenant for command in commands_in(records)] == ["acme", "acme"]


class SenderDiesAtStart(Producer):
    """A real producer whose aiokafka sender has died, as after a broker restart.

    aiokafka then fails every send at once; only a new producer gets through.
    """

    async def start(self) -> None:
        await super().start()
        accumulator = self._producer._message_accumulator  # type: ignore[union-attr]
        accumulator.fail_all(OutOfOrderSequenceNumber())


async def test_a_dead_producer_is_replaced(kafka_settings: Settings) -> None:
    made: list[Producer] = []

    def new_producer(settings: KafkaSettings, suffix: str) -> Producer:
        kind = Producer if made else SenderDiesAtStart
        made.append(kind(settings, suffix))
        return made[-1]

    publisher = CommandPublisher(kafka_settings, producer_factory=new_producer)
    async with running_api(kafka_settings, publisher) as api:
        api.register("billing")
        token = await api.token("billing")
        statuses = [(await api.reindex("acme", token)).status_code for _ in range(3)]

    assert statuses == [503, 204, 204]
    assert [type(producer) for producer in made] == [SenderDiesAtStart, Producer]
    records = await read_topic(kafka_settings, kafka_settings.topics.commands)
    assert len(commands_in(records)) == 2


async def test_jobs_answer_503_until_kafka_is_back(kafka_settings: Settings) -> None:
    port = _closed_port()
    settings = _pointed_at(kafka_settings, port)
    earlier = ReindexRequested(tenant="acme", requested_by="catalog-service")
    async with Producer(kafka_settings.kafka, "tests") as producer:
        topic = kafka_settings.topics.commands
        await producer.send(topic, earlier.to_bytes(), key=b"acme")

    async with running_api(settings) as api:
        api.register("billing")
        token = await api.token("billing")
        listed_down = await api.jobs(token)
        created_down = await api.create_job(token)
        async with _server(port, _proxy_to(kafka_settings.kafka.bootstrap_servers)):
            listed_back = await _first_answer(lambda: api.jobs(token))
            created_back = await api.create_job(token)

    for response in (listed_down, created_down):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["details"] == [
            "The jobs are still being read from Kafka; retry later"
        ]
    assert [job["id"] for job in listed_back.json()] == [earlier.command_id]
    assert created_back.status_code == 200
    assert created_back.json()["id"] == earlier.command_id
    records = await read_topic(kafka_settings, kafka_settings.topics.commands)
    assert [c.command_id for c in commands_in(records)] == [earlier.command_id]


async def _first_answer(
    call: Callable[[], Awaitable[httpx.Response]], timeout_s: float = 30.0
) -> httpx.Response:
    """The first response of ``call`` that is not a 503."""
    deadline = time.monotonic() + timeout_s
    while (response := await call()).status_code == 503:
        assert time.monotonic() < deadline, "the jobs were never read"
    return response
