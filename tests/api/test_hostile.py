"""Hostile clients: crafted tenants, oversized headers, slow senders.

A tenant crafted to reach other indexes (wildcards, lists, ``_all``, dot
segments, capitals, percent-encoded forms) never becomes a command on Kafka,
whether the token names the tenant or not. Against ``indexer api`` as an
operator runs it: oversized headers are refused without harm, and clients
that send their headers a byte at a time do not block others.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from tests.api.support import Api, read_topic
from tests.api.test_contract import LiveApi, live_api

__all__ = ["live_api"]  # the fixture, shared with the contract tests

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CRAFTED = [
    "*",
    "acme*",
    ",",
    "acme,other",
    "_all",
    "..",
    "acme..",
    ".acme",
    "-acme",
    "ACME",
    "Acme",
    "%2A",
    "acme%2Cother",
    "%5Fall",
    "%2E%2E",
    "acme%2F..%2Fother",
    "acme%00",
    "acme%20",
]
SLOW_CLIENTS = 40
SLOW_FOR_S = 8.0


async def _assert_topic_empty(api: Api) -> None:
    assert await read_topic(api.settings, api.settings.topics.commands) == []


@pytest.mark.parametrize("tenant", CRAFTED)
async def test_a_crafted_tenant_never_reaches_kafka(
    kafka_api: Api, tenant: str
) -> None:
    own = await kafka_api.token("billing")
    claiming = kafka_api.mint(tenant=tenant, scope="indexing.search_manage")

    answers = [
        await kafka_api.reindex(tenant, own),
        await kafka_api.reindex(tenant, claiming),
        await kafka_api.reindex(tenant, claiming, json={"mode": "FULL"}),
    ]

    assert {a.status_code for a in answers} <= {400, 401, 403, 404}, [
        (a.status_code, a.text) for a in answers
    ]
    await _assert_topic_empty(kafka_api)


async def _raw(url: str, request: bytes, timeout_s: float = 10) -> bytes:
    """The first bytes answered to ``request``, or b"" if the server hung up."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            return await asyncio.wait_for(reader.read(200), timeout_s)
        return b""
    finally:
        writer.close()


@pytest.mark.parametrize(
    "header",
    [
        b"X-Padding: " + b"a" * 200_000,
        b"Authorization: Bearer " + b"a" * 200_000,
        b"".join(b"X-H%d: v\r\n" % n for n in range(5000)).rstrip(b"\r\n"),
    ],
    ids=["one-large-header", "large-token", "many-headers"],
)
async def test_oversized_headers_are_refused_and_harmless(
    live_api: LiveApi, header: bytes
) -> None:
    request = (
        b"POST /indexing/acme/reindex HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + header
        + b"\r\nContent-Length: 0\r\n\r\n"
    )

    answer = await _raw(live_api.url, request)

    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b""
    assert status in (b"", b"400", b"401", b"413", b"431"), answer
    async with httpx.AsyncClient(base_url=live_api.url, timeout=10) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200


async def _slow_client(url: str, stop: asyncio.Event) -> None:
    """Sends a request's headers one byte every half second until ``stop``."""
    host, port = url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /indexing/acme/reindex HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while not stop.is_set():
            writer.write(b"a")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    except ConnectionError:
        pass  # the server may hang up on a slow client: that is allowed
    finally:
        writer.close()


async def test_slow_clients_do_not_block_others(live_api: LiveApi) -> None:
    stop = asyncio.Event()
    slow = [
        asyncio.create_task(_slow_client(live_api.url, stop))
        for _ in range(SLOW_CLIENTS)
    ]
    await asyncio.sleep(1)
    headers = {"Authorization": f"Bearer {live_api.token}"}
    statuses = []
    try:
        async with httpx.AsyncClient(base_url=live_api.url, timeout=15) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + SLOW_FOR_S
            while loop.time() < deadline:
                response = await client.post("/indexing/acme/reindex", headers=headers)
                statuses.append(response.status_code)
                await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*slow)

    assert statuses, "no request was answered"
    assert set(statuses) == {204}, statuses
