"""An isolated indexer for one test: its own topics, index prefix and workers.

Workers run as real ``indexer worker`` processes against the real Kafka and
OpenSearch, configured through ``INDEXER_*`` variables like in production.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_scan

from indexer import products
from indexer.commands import EventFollower
from indexer.events import ReindexRequested
from indexer.kafka import Producer, partition_count
from indexer.settings import Settings
from tests.oracle import Oracle

WORKER_READY_TIMEOUT_S = 60.0
CATALOGS = products.catalog_folder()


def catalog(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` documents of a real catalog, or all of them."""
    path = CATALOGS / f"{name}.jsonl.gz"
    if not path.exists():
        pytest.fail(f"the catalog {path} is missing: set INDEXER_CATALOGS")
    return list(itertools.islice(products.read_documents(path), limit))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def owned(self, topic: str) -> set[int]:
        """The changelog partitions of this worker's last assignment."""
        lines = [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if "assigned partitions" in line
        ]
        if not lines:
            return set()
        pairs = re.findall(r"\('([^']+)', (\d+)\)", lines[-1])
        return {int(partition) for name, partition in pairs if name == topic}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@dataclass
class World:
    """One isolated indexer: settings, workers, and what was published."""

    settings: Settings
    env: dict[str, str]
    folder: Path
    opensearch: AsyncOpenSearch
    oracle: Oracle = field(default_factory=Oracle)
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, *options: str, **env: str) -> Worker:
        """``indexer [options] worker`` with this world's settings and ``env``."""
        log = self.folder / f"worker-{len(self.workers)}.log"
        variables = {
            **os.environ,
            **self.env,
            "INDEXER_WORKER__WEB_PORT": str(_free_port()),
            **env,
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "indexer", *options, "worker"],
                env=variables,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def alias(self, tenant: str) -> str:
        return f"{self.settings.opensearch.index_prefix}-{tenant}"

    async def publish(self, tenant: str, documents: Iterable[dict[str, Any]]) -> int:
        documents = list(documents)
        for document in documents:
            self.oracle.upsert(tenant, document)
        return await products.publish(self.settings, tenant, documents)

    async def delete(self, tenant: str, product_ids: list[str]) -> None:
        for product_id in product_ids:
            self.oracle.delete(tenant, product_id)
        await products.delete(self.settings, tenant, product_ids)

    async def send_raw(self, key: bytes | None, value: bytes | None) -> None:
        """One record where the layout puts its key, as a publisher would."""
        async with products.changelog_producer(self.settings, "tests") as producer:
            await producer.send(self.settings.topics.changelog, value, key=key)

    async def command(self, command: ReindexRequested) -> None:
        async with Producer(self.settings.kafka, "tests") as producer:
            await producer.send(
                self.settings.topics.commands,
                command.to_bytes(),
                key=command.tenant.encode(),
            )

    def follow(self) -> EventFollower:
        return EventFollower(self.settings)

    async def documents(self, tenant: str) -> dict[str, dict[str, Any]]:
        """Every document behind the tenant's alias, by id."""
        alias = self.alias(tenant)
        await self.opensearch.indices.refresh(index=alias)
        found: dict[str, dict[str, Any]] = {}
        async for hit in async_scan(
            self.opensearch, index=alias, query={"query": {"match_all": {}}}
        ):
            found[hit["_id"]] = hit["_source"]
        return found

    async def wait_for(
        self, tenant: str, expected: dict[str, dict[str, Any]], timeout_s: float = 60
    ) -> dict[str, dict[str, Any]]:
        """The alias's documents once they equal ``expected``, or the last seen."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        found: dict[str, dict[str, Any]] = {}
        while asyncio.get_running_loop().time() < deadline:
            self.check_workers()
            if await self.opensearch.indices.exists_alias(name=self.alias(tenant)):
                found = await self.documents(tenant)
                if found == expected:
                    return found
            await asyncio.sleep(0.5)
        return found

    async def read_topic(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            enable_auto_commit=False,
            # With the default "latest", seek_to_beginning may land at the end.
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            count = await partition_count(self.settings.kafka.bootstrap_servers, topic)
            partitions = [TopicPartition(topic, p) for p in range(count)]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.seek_to_beginning(*partitions)
            records = []
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    records += [(m.key, m.value) for m in messages]
            return records
        finally:
            await consumer.stop()

    async def events(self) -> list[dict[str, Any]]:
        return [
            json.loads(value)
            for _, value in await self.read_topic(self.settings.topics.events)
            if value is not None
        ]

    async def wait_for_assignment(self, timeout_s: float = 60) -> None:
        """Until every worker owns part of the changelog, and all of it is owned."""
        topic = self.settings.topics.changelog
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            owned = [worker.owned(topic) for worker in self.workers]
            counts = [len(partitions) for partitions in owned]
            total = self.settings.topics.changelog_partitions
            if all(counts) and sum(counts) == total == len(set().union(*owned)):
                return
            await asyncio.sleep(0.5)
        pytest.fail(f"the workers never shared {topic}: {owned}")

    def check_workers(self) -> None:
        for worker in self.workers:
            code = worker.process.poll()
            if code is not None and code not in (0, -signal.SIGKILL):
                pytest.fail(f"a worker exited with {code}:\n{worker.tail()}")
