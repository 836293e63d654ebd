"""``indexer demo`` end to end on slices of the real catalogs."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from indexer.products import catalog_folder, read_documents
from indexer.settings import Settings
from indexer.stack import Stack

CATALOGS = catalog_folder()
SLICE = 400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_slice(name: str, folder: Path) -> Path:
    source = CATALOGS / f"{name}.jsonl.gz"
    if not source.exists():
        pytest.fail(f"the catalog {source} is missing: set INDEXER_CATALOGS")
    path = folder / f"{name}-slice.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for document in itertools.islice(read_documents(source), SLICE):
            out.write(json.dumps(document) + "\n")
    return path


def demo(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indexer", "demo", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_the_demo_runs_the_whole_flow_and_stops(
    stack: Stack,
    settings: Settings,
    kafka_admin: AIOKafkaAdminClient,
    opensearch: AsyncOpenSearch,
    tmp_path: Path,
) -> None:
    name = f"d{uuid.uuid4().hex[:10]}"
    topics = {
        part: f"{name}.{part}"
        for part in ("changelog", "commands", "events", "deadletter", "builds")
    }
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "INDEXER_STACK_HOME": str(settings.stack_home),
        "INDEXER_OPENSEARCH__INDEX_PREFIX": name,
        "INDEXER_WORKER__APP_ID": f"{name}-worker",
        "INDEXER_WORKER__WEB_PORT": str(free_port()),
        "INDEXER_API__PORT": str(free_port()),
        **{f"INDEXER_TOPICS__{part.upper()}": topic for part, topic in topics.items()},
    }
    slices = [
        ("decathlon", write_slice("decathlon", tmp_path)),
        ("amazontoys", write_slice("amazontoys", tmp_path)),
    ]
    arguments = list(
        itertools.chain.from_iterable(
            ["--catalog", str(path), "--tenant", tenant] for tenant, path in slices
        )
    )

    try:
        first = demo(arguments, env)
        second = demo(arguments, env)
        await opensearch.indices.refresh(index=f"{name}-*")
        counts = {
            tenant: (await opensearch.count(index=f"{name}-{tenant}"))["count"]
            for tenant, _ in slices
        }
    finally:
        stopped = demo(["--stop"], env)
        await kafka_admin.delete_topics(list(topics.values()))
        await opensearch.indices.delete(
            index=f"{name}-*", ignore_unavailable=True, expand_wildcards="all"
        )

    for run in (first, second):
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert run.stdout.count("completed") >= len(slices)
        assert "renamed and found" in run.stdout
        assert "NO" not in run.stdout
        assert "make demo-stop" in run.stdout
    # Each run republishes the catalogs, then deletes one product of the first
    # to show a delete live: the index ends one short there, the same each run.
    assert counts == {"decathlon": SLICE - 1, "amazontoys": SLICE}
    assert "api: stopped" in stopped.stdout
    assert "worker: stopped" in stopped.stdout


def test_without_catalogs_the_demo_says_how_to_run_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.jsonl.gz"

    run = demo(["--catalog", str(missing), "--tenant", "acme"], dict(os.environ))

    assert run.returncode == 2
    assert "indexer demo --catalog PATH --tenant NAME" in run.stderr
