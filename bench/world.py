"""An isolated indexer for one benchmark: its own topics, index prefix, app id.

Like the tests' world, workers are real ``indexer worker`` processes configured
through ``INDEXER_*`` variables. Everything a world created is deleted when it
closes: worker processes, topics, indexes and the consumer group.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch
from prometheus_client.parser import text_string_to_metric_families

from indexer import products
from indexer.commands import EventFollower
from indexer.events import (
    ReindexCompleted,
    ReindexFailed,
    ReindexRequested,
    ReindexStarted,
)
from indexer.kafka import Producer, ensure_topics, partition_count, project_topics
from indexer.search import open_client
from indexer.settings import Settings

READY_TIMEOUT_S = 90.0
# A folder holding an ``indexer`` package that workers run instead of the
# work tree's (see ``snapshot``); None runs the installed one.
worker_code: str | None = None
REINDEX_TIMEOUT_S = 900.0


class BenchError(RuntimeError):
    """A benchmark could not run as planned; the message says where."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    code: str
    web_port: int

    async def histogram(self, name: str) -> dict[float, float]:
        """Cumulative counts by upper bound of a histogram the worker exposes."""
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{self.web_port}/metrics")
        answer.raise_for_status()
        counts: dict[float, float] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                if sample.name == f"{name}_bucket":
                    counts[float(sample.labels["le"])] = sample.value
        return counts

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def assigned(self, topic: str) -> bool:
        lines = [line for line in self.text().splitlines() if "assigned" in line]
        return bool(lines) and f"'{topic}'" in lines[-1]

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise BenchError(f"a worker exited with {code}:\n{self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class ReindexRun:
    """One reindex, timed by this process from request to completion."""

    tenant: str
    documents: int
    requested_at: float
    started_at: float
    completed_at: float
    outcome: ReindexCompleted
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def elapsed_s(self) -> float:
        return self.completed_at - self.requested_at

    @property
    def rate(self) -> float:
        return self.documents / self.elapsed_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "documents": self.documents,
            "elapsed_s": self.elapsed_s,
            "docs_per_s": self.rate,
            "to_started_s": self.started_at - self.requested_at,
            "worker_duration_s": self.outcome.duration_s,
            "generation": self.outcome.generation,
            "phases": self.phases,
        }


@dataclass
class World:
    name: str
    settings: Settings
    env: dict[str, str]
    folder: Path
    search: AsyncOpenSearch
    workers: list[WorkerProcess] = field(default_factory=list)

    @classmethod
    async def create(
        cls, label: str, root: Path, partitions: int = 12, spread: int = 2
    ) -> World:
        name = f"b{label}{uuid.uuid4().hex[:8]}"
        folder = root / name
        folder.mkdir(parents=True)
        env = {
            "INDEXER_TOPICS__CHANGELOG": f"{name}.products.changelog",
            "INDEXER_TOPICS__COMMANDS": f"{name}.indexing.commands",
            "INDEXER_TOPICS__EVENTS": f"{name}.indexing.events",
            "INDEXER_TOPICS__DEADLETTER": f"{name}.products.deadletter",
            "INDEXER_TOPICS__BUILDS": f"{name}.indexing.builds",
            "INDEXER_TOPICS__CHANGELOG_PARTITIONS": str(partitions),
            "INDEXER_TOPICS__CHANGELOG_SPREAD": str(spread),
            "INDEXER_OPENSEARCH__INDEX_PREFIX": name,
            "INDEXER_WORKER__APP_ID": f"{name}-worker",
            "INDEXER_WORKER__DATA_DIR": str(folder / "worker-data"),
        }
        settings = _isolated(env)
        await ensure_topics(settings, project_topics(settings))
        return cls(name, settings, env, folder, open_client(settings.opensearch))

    def alias(self, tenant: str) -> str:
        return f"{self.settings.opensearch.index_prefix}-{tenant}"

    def start_worker(self, code: str | None = None, **env: str) -> WorkerProcess:
        """Start a worker; ``code`` is a folder whose ``indexer`` package it runs."""
        log = self.folder / f"worker-{len(self.workers)}.log"
        port = _free_port()
        variables = {
            **os.environ,
            **self.env,
            "INDEXER_WORKER__WEB_PORT": str(port),
            **env,
        }
        code = code or worker_code
        if code is not None:
            variables["PYTHONPATH"] = code
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "indexer", "worker"],
                env=variables,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )
        worker = WorkerProcess(process, log, code or "tree", port)
        self.workers.append(worker)
        return worker

    async def wait_assigned(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every running worker owns part of the changelog."""
        topic = self.settings.topics.changelog
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            running = [w for w in self.workers if w.process.poll() is None]
            if running and all(w.assigned(topic) for w in running):
                await asyncio.sleep(1.0)
                if all(w.assigned(topic) for w in running):
                    return
            for worker in running:
                worker.check()
            await asyncio.sleep(0.3)
        raise BenchError(f"workers of {self.name} never owned {topic}")

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    async def publish(self, tenant: str, documents: list[dict[str, Any]]) -> int:
        return await products.publish(self.settings, tenant, documents)

    async def skip_live(self) -> None:
        """Commit the worker group at the changelog's end, as after live indexing.

        Used where only the rewind matters, so a worker started afterwards does
        not first index hundreds of thousands of records live.
        """
        topic = self.settings.topics.changelog
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            group_id=self.settings.worker.app_id,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            count = self.settings.topics.changelog_partitions
            partitions = [TopicPartition(topic, p) for p in range(count)]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """The end offset of each partition of ``topic``."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers
        )
        await consumer.start()
        try:
            count = await partition_count(self.settings.kafka.bootstrap_servers, topic)
            partitions = [TopicPartition(topic, p) for p in range(count)]
            ends = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def wait_count(self, tenant: str, expected: int, timeout_s: float) -> float:
        """Until the alias holds ``expected`` documents; returns the seconds taken."""
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            for worker in self.workers:
                worker.check()
            if await self.search.indices.exists_alias(name=self.alias(tenant)):
                await self.search.indices.refresh(index=self.alias(tenant))
                answer = await self.search.count(index=self.alias(tenant))
                if answer["count"] >= expected:
                    return time.monotonic() - began
            await asyncio.sleep(0.5)
        raise BenchError(f"{self.alias(tenant)} never held {expected} documents")

    async def reindex(self, tenant: str, expected: int) -> ReindexRun:
        async with EventFollower(self.settings) as events:
            command = ReindexRequested(tenant=tenant, requested_by="bench")
            requested = time.time()
            async with Producer(self.settings.kafka, "bench") as producer:
                await producer.send(
                    self.settings.topics.commands,
                    command.to_bytes(),
                    key=tenant.encode(),
                )
            started = completed = 0.0
            deadline = time.monotonic() + REINDEX_TIMEOUT_S
            while time.monotonic() < deadline:
                for worker in self.workers:
                    if worker.process.poll() is None:
                        worker.check()
                for event in await events.next_events(0.2):
                    if command.command_id not in event.command_ids:
                        continue
                    now = time.time()
                    if isinstance(event, ReindexStarted):
                        started = now
                    elif isinstance(event, ReindexCompleted):
                        completed = now
                        run = _checked(event, expected, requested, started, completed)
                        run.phases = self.phases(run)
                        return run
                    elif isinstance(event, ReindexFailed):
                        raise BenchError(f"reindex of {tenant} failed: {event}")
        raise BenchError(f"no outcome for the reindex of {tenant}")

    def phases(self, run: ReindexRun) -> dict[str, float]:
        """Seconds of each phase, from the workers' log lines of the generation.

        command: request to the build's start; rewind: to the last partition
        handed off; finish: verification, alias swap, until the completion
        event reached this process.
        """
        generation = run.outcome.generation
        marks: dict[str, list[float]] = {"started": [], "rewound": []}
        for worker in self.workers:
            for line in worker.text().splitlines():
                if generation not in line:
                    continue
                for mark, words in PHASE_WORDS.items():
                    if words in line and (at := _log_time(line)) is not None:
                        marks[mark].append(at)
        if not all(marks.values()):
            return {}
        started, rewound = min(marks["started"]), max(marks["rewound"])
        return {
            "command_s": started - run.requested_at,
            "rewind_s": rewound - started,
            "finish_s": run.completed_at - rewound,
        }

    async def close(self) -> None:
        self.stop_workers()
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka.bootstrap_servers
        )
        await admin.start()
        try:
            await admin.delete_topics([s.name for s in project_topics(self.settings)])
        finally:
            await admin.close()
        await self.search.indices.delete(
            index=f"{self.name}-*", ignore_unavailable=True, expand_wildcards="all"
        )
        await self.search.close()


PHASE_WORDS = {"started": "started into", "rewound": "rewound "}


def _log_time(line: str) -> float | None:
    """The local time a plain log line starts with, as a Unix timestamp."""
    match = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
    if match is None:
        return None
    at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
    return at.timestamp() + int(match[2]) / 1000


def _checked(
    event: ReindexCompleted,
    expected: int,
    requested: float,
    started: float,
    completed: float,
) -> ReindexRun:
    if event.documents != expected or event.rejected:
        raise BenchError(
            f"{event.generation} holds {event.documents} documents, "
            f"{event.rejected} rejected; expected {expected}"
        )
    return ReindexRun(
        event.tenant, event.documents, requested, started or requested, completed, event
    )


def snapshot(ref: str, folder: Path) -> str:
    """The ``indexer`` package as committed at ``ref``, extracted into ``folder``.

    Other engineers edit the work tree while benchmarks run; a snapshot keeps
    the code under test fixed and lets two versions be compared in one run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", ref, "indexer"],
        cwd=Path(__file__).parents[1],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return str(folder)


def _isolated(env: dict[str, str]) -> Settings:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return Settings()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
