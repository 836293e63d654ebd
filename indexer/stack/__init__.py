"""A real local Kafka and OpenSearch, fetched, started and stopped by the project.

``Stack(settings).up()`` fetches the servers once into ``downloads/`` beside
the stack home, starts whichever is not running yet and waits until both
answer; a second call finds them running and returns at once. ``down()`` stops
only the processes whose pid files it wrote. The API is synchronous and
blocks while servers start: call it from plain code or a sync fixture.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Collection, Iterator
from functools import cache
from urllib.parse import urlsplit

from indexer.errors import ConfigurationError
from indexer.settings import Settings
from indexer.stack.jdk import find_jdk
from indexer.stack.kafka import Kafka
from indexer.stack.opensearch import OpenSearch
from indexer.stack.server import Server, ServerStatus, State

__all__ = ["ServerStatus", "Stack", "State"]

LOCAL_HOSTS = ("127.0.0.1", "localhost")

log = logging.getLogger(__name__)


class Stack:
    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.home = settings.stack_home
        self.downloads = self.home.parent / "downloads"
        kafka_host, kafka_port = _kafka_address(settings.kafka.bootstrap_servers)
        search_host, search_port = _search_address(settings.opensearch.url)
        self.servers: tuple[Server, ...] = (
            Kafka(self.home, self.downloads, kafka_host, kafka_port),
            OpenSearch(self.home, self.downloads, search_host, search_port),
        )

    def up(self) -> list[str]:
        """Start what is not running and wait for all; names what it started.

        When anything fails, the servers this call started are stopped again.
        """
        jdk = cache(find_jdk)
        started: list[Server] = []
        with self._lock():
            try:
                for server in self.servers:
                    if server.launch(jdk):
                        started.append(server)
                for server in self.servers:
                    server.wait_ready()
            except BaseException:
                self._stop(started)
                raise

        log.info("stack up: kafka and opensearch answer, state in %s", self.home)
        return [server.name for server in started]

    def down(
        self, names: Collection[str] | None = None, wipe: bool = False
    ) -> list[str]:
        """Stop the servers this stack started (all, or those named); names them.

        ``wipe`` also deletes their data, for a replay from an empty cluster.
        """
        chosen = [s for s in self.servers if names is None or s.name in names]
        with self._lock():
            return self._stop(chosen, wipe)

    def status(self) -> list[ServerStatus]:
        return [server.status() for server in self.servers]

    def _stop(self, servers: list[Server], wipe: bool = False) -> list[str]:
        return [server.name for server in reversed(servers) if server.stop(wipe)]

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One ``up`` or ``down`` at a time, across processes (pytest workers)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another stack command on %s", self.home)
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _kafka_address(bootstrap_servers: str) -> tuple[str, int]:
    first = bootstrap_servers.split(",", maxsplit=1)[0].strip()
    host, _, port = first.rpartition(":")
    return _local(host, port, "INDEXER_KAFKA__BOOTSTRAP_SERVERS", first)


def _search_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ConfigurationError(
            f"the local OpenSearch speaks plain http; INDEXER_OPENSEARCH__URL is {url}"
        )
    return _local(
        parts.hostname or "", str(parts.port or 9200), "INDEXER_OPENSEARCH__URL", url
    )


def _local(host: str, port: str, variable: str, value: str) -> tuple[str, int]:
    if host not in LOCAL_HOSTS or not port.isdigit():
        raise ConfigurationError(
            f"the local stack binds 127.0.0.1 only; {variable} is {value!r}: "
            "use 127.0.0.1:<port>"
        )
    return "127.0.0.1", int(port)
