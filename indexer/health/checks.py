"""Readiness checks of Kafka (a metadata answer) and OpenSearch (cluster health).

Both run at once, each bounded by ``health.timeout_s``; a check never raises:
its failure is a :class:`Check` that names the dependency and says why, in
words safe to show an unauthenticated caller (no address, no credential).
A check that passes the bound is answered as failed but not cancelled: it ends
by its clients' own timeouts and closes them (aiokafka leaks a connection
cancelled halfway through its bootstrap).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import TransportError

from indexer.search import open_client
from indexer.settings import Settings

log = logging.getLogger(__name__)

KAFKA = "kafka"
OPENSEARCH = "opensearch"
HEALTHY_STATUS = frozenset({"green", "yellow"})


class Unhealthy(Exception):
    """A dependency answered, but not well enough to serve."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "status": "up" if self.ok else "down",
            "seconds": round(self.seconds, 3),
        }
        if self.error is not None:
            answer["error"] = self.error
        return answer


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "failed": self.failed,
            "checks": {check.name: check.to_json() for check in self.checks},
        }


class Probe:
    """Checks the dependencies of one process; ``close`` releases its client."""

    def __init__(self, settings: Settings) -> None:
        self._timeout_s = settings.health.timeout_s
        self._bootstrap_servers = settings.kafka.bootstrap_servers
        bounded = settings.opensearch.model_copy(
            update={"request_timeout_s": self._timeout_s}
        )
        self._search: AsyncOpenSearch = open_client(bounded)
        self._down: set[str] = set()
        self._pending: set[asyncio.Task[None]] = set()

    async def readiness(self) -> Readiness:
        checks = await asyncio.gather(
            self._run(KAFKA, self._kafka),
            self._run(OPENSEARCH, self._opensearch),
        )
        self._log_changes(checks)
        return Readiness(tuple(checks))

    async def close(self) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._search.close()

    async def _run(
        self, name: str, check: Callable[[], Coroutine[Any, Any, None]]
    ) -> Check:
        started = time.perf_counter()
        task = asyncio.create_task(check(), name=f"health-{name}")
        self._pending.add(task)
        task.add_done_callback(self._settled)
        try:
            await asyncio.wait_for(asyncio.shield(task), self._timeout_s)
        except TimeoutError:
            error = f"no answer within {self._timeout_s:g}s"
        except (KafkaError, TransportError, OSError) as exc:
            error = f"unreachable ({type(exc).__name__})"
        except Unhealthy as exc:
            error = str(exc)
        else:
            return Check(name, True, time.perf_counter() - started)
        return Check(name, False, time.perf_counter() - started, error)

    async def _kafka(self) -> None:
        """A fresh client per check: its bootstrap is a metadata request."""
        client = AIOKafkaClient(
            bootstrap_servers=self._bootstrap_servers,
            client_id="indexer-health",
            request_timeout_ms=int(self._timeout_s * 1000),
        )
        try:
            await client.bootstrap()
        finally:
            await client.close()

    async def _opensearch(self) -> None:
        health = await self._search.cluster.health()
        status = health.get("status")
        if status not in HEALTHY_STATUS:
            raise Unhealthy(f"cluster status {status}")

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned check's error is not news

    def _log_changes(self, checks: Sequence[Check]) -> None:
        """One line when a dependency goes down or comes back, not per probe."""
        for check in checks:
            if not check.ok and check.name not in self._down:
                self._down.add(check.name)
                log.warning("readiness: %s is down: %s", check.name, check.error)
            elif check.ok and check.name in self._down:
                self._down.discard(check.name)
                log.info("readiness: %s is back", check.name)
