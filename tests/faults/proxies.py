"""Loopback proxies the fault tests put between a worker and OpenSearch.

Each proxy runs its own event loop in a thread, so it keeps serving while the
test's loop blocks (a worker stopped with ``Worker.stop``, a stack restarting).

- :class:`TcpProxy` forwards bytes; ``cut("refuse")`` closes the listener and
  resets every connection, ``cut("hang")`` accepts and never answers.
- :class:`ThrottlingProxy` speaks HTTP; while throttling it answers bulk
  requests with 429, whole or item by item, and forwards everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

T = TypeVar("T")
CALL_TIMEOUT_S = 10.0
CHUNK_BYTES = 65536
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


class LoopThread:
    """An event loop in a daemon thread; coroutines are submitted to it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the thread's loop from another loop."""
        return await asyncio.wait_for(
            asyncio.wrap_future(self.submit(coroutine)), CALL_TIMEOUT_S
        )

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CALL_TIMEOUT_S)
        self.loop.close()


Mode = Literal["open", "refuse", "hang"]


@dataclass(eq=False)  # kept in a set: hashed by identity
class Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class TcpProxy:
    """127.0.0.1:``port`` forwarding to ``upstream`` until it is cut."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.mode: Mode = "open"
        self.connections = 0
        self._links: set[Link] = set()
        self._server: asyncio.Server | None = None
        self._thread = LoopThread(f"tcp-proxy-{self.port}")
        self._thread.submit(self._listen()).result(CALL_TIMEOUT_S)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def cut(self, mode: Mode = "refuse") -> None:
        await self._thread.run(self._cut(mode))

    async def restore(self) -> None:
        await self._thread.run(self._restore())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._thread.submit(self._cut("refuse")).result(CALL_TIMEOUT_S)
        self._thread.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _cut(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.abort()

    async def _restore(self) -> None:
        self.mode = "open"
        for link in [link for link in self._links if link.upstream is None]:
            link.abort()
        if self._server is None:
            await self._listen()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        link = Link(writer)
        self._links.add(link)
        try:
            if self.mode == "hang":
                await reader.read()
                return
            upstream_reader, link.upstream = await asyncio.open_connection(
                *self.upstream
            )
            await asyncio.gather(
                _pipe(reader, link.upstream), _pipe(upstream_reader, writer)
            )
        except OSError:
            pass
        finally:
            self._links.discard(link)
            link.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()


Throttle = Literal["pass", "slow", "whole", "items"]


@dataclass
class ThrottleStats:
    bulks: int = 0
    rejected_bulks: int = 0
    rejected_items: int = 0
    forwarded_items: int = 0


class ThrottlingProxy:
    """An HTTP proxy to OpenSearch that answers 429 to bulks while throttling.

    ``whole`` refuses every bulk request; ``items`` forwards every other item
    of each bulk and answers the others with an item-level 429, as a node
    whose write queue is full does; ``slow`` forwards each bulk ``slow_s`` late.
    """

    def __init__(self, upstream_url: str, slow_s: float = 0.1) -> None:
        self.port = free_port()
        self.throttle: Throttle = "pass"
        self.slow_s = slow_s
        self.stats = ThrottleStats()
        self._items_seen = 0
        self._upstream_url = upstream_url
        self._thread = LoopThread(f"http-proxy-{self.port}")
        self._thread.submit(self._start()).result(CALL_TIMEOUT_S)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, throttle: Throttle) -> None:
        self._thread.loop.call_soon_threadsafe(setattr, self, "throttle", throttle)

    def close(self) -> None:
        self._thread.submit(self._stop()).result(CALL_TIMEOUT_S)
        self._thread.close()

    async def _start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self._upstream_url, timeout=60)
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=METHODS)])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            ws="none",
            http="h11",
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn sets a flag
            await asyncio.sleep(0.05)

    async def _stop(self) -> None:
        self._server.should_exit = True
        await self._serving
        await self._client.aclose()

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        if request.url.path.endswith("/_bulk"):
            self.stats.bulks += 1
            if self.throttle == "whole":
                self.stats.rejected_bulks += 1
                return _too_many_requests()
            if self.throttle == "items":
                return await self._bulk_in_part(request, body)
            if self.throttle == "slow":
                await asyncio.sleep(self.slow_s)
        return await self._forward(request, body)

    async def _forward(self, request: Request, body: bytes) -> Response:
        answer = await self._client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=body,
            headers=_content_type(request),
        )
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    async def _bulk_in_part(self, request: Request, body: bytes) -> Response:
        items = _bulk_items(body)
        rejected = []
        for _ in items:
            rejected.append(self._items_seen % 2 == 0)
            self._items_seen += 1
        kept = [item for item, no in zip(items, rejected, strict=True) if not no]
        answers: list[dict[str, Any]] = []
        if kept:
            forwarded = await self._client.post(
                request.url.path,
                content=b"".join(b"".join(lines) for _, lines in kept),
                headers=_content_type(request),
            )
            answers = forwarded.json()["items"]
        self.stats.forwarded_items += len(kept)
        self.stats.rejected_items += sum(rejected)
        merged = [
            _item_429(action) if no else answers.pop(0)
            for (action, _), no in zip(items, rejected, strict=True)
        ]
        document = {"took": 1, "errors": True, "items": merged}
        return Response(json.dumps(document), media_type="application/json")


BulkItem = tuple[dict[str, Any], list[bytes]]


def _bulk_items(body: bytes) -> list[BulkItem]:
    """The bulk body as (action, its lines), each line ending in a newline."""
    lines = [line + b"\n" for line in body.split(b"\n") if line.strip()]
    items: list[BulkItem] = []
    while lines:
        action_line = lines.pop(0)
        action: dict[str, Any] = json.loads(action_line)
        ((kind, _),) = action.items()
        own = [action_line]
        if kind in ("index", "create", "update"):
            own.append(lines.pop(0))
        items.append((action, own))
    return items


def _item_429(action: dict[str, Any]) -> dict[str, Any]:
    ((kind, meta),) = action.items()
    error = {
        "type": "es_rejected_execution_exception",
        "reason": "rejected by the fault test's proxy",
    }
    answer = {"_index": meta["_index"], "_id": meta["_id"], "status": 429}
    return {kind: {**answer, "error": error}}


def _too_many_requests() -> Response:
    error = {
        "error": {"type": "es_rejected_execution_exception", "reason": "throttled"},
        "status": 429,
    }
    return Response(json.dumps(error), status_code=429, media_type="application/json")


def _content_type(request: Request) -> dict[str, str]:
    value = request.headers.get("content-type")
    return {"content-type": value} if value else {}
