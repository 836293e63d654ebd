"""The test harness is real: a broker that stores records, an engine that
analyses text, and a stack that starts once and stops only what it started."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opensearchpy import AsyncOpenSearch

from indexer.errors import ConfigurationError, StackError
from indexer.settings import KafkaSettings, OpenSearchSettings, Settings
from indexer.stack import Stack, State
from indexer.stack.jdk import find_jdk
from indexer.stack.kafka import Kafka
from indexer.stack.opensearch import OpenSearch
from tests.conftest import IndexFactory, TopicFactory


@pytest.mark.integration
@pytest.mark.asyncio
async def test_record_round_trip(new_topic: TopicFactory, settings: Settings) -> None:
    topic = await new_topic(partitions=3, config={"cleanup.policy": "compact"})
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"v1", key=b"k1", partition=2)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 2)])
        await consumer.seek_to_beginning()
        record = await consumer.getone()
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"k1", b"v1")
    assert (record.partition, record.offset) == (2, sent.offset)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_english_analyzer_stems(
    new_index: IndexFactory, opensearch: AsyncOpenSearch
) -> None:
    mapping = {"properties": {"title": {"type": "text", "analyzer": "english"}}}
    index = await new_index({"mappings": mapping})

    await opensearch.index(
        index=index, id="1", body={"title": "Running shoes"}, refresh=True
    )
    found = await opensearch.search(
        index=index, body={"query": {"match": {"title": "run"}}}
    )

    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["1"]


@pytest.mark.integration
def test_up_twice_is_harmless(stack: Stack) -> None:
    before = {server.name: server.pid for server in stack.status()}

    started = stack.up()

    after = stack.status()
    assert started == []
    assert all(server.state is State.RUNNING for server in after)
    assert {server.name: server.pid for server in after} == before


@pytest.mark.integration
def test_status_names_addresses_and_folders(stack: Stack, settings: Settings) -> None:
    servers = {server.name: server for server in stack.status()}

    assert servers["kafka"].address == settings.kafka.bootstrap_servers
    assert servers["opensearch"].address == settings.opensearch.url
    for server in servers.values():
        assert server.pid is not None
        assert server.folder.parent == stack.home


@pytest.mark.integration
def test_kafka_stops_by_pid(stack: Stack, tmp_path: Path) -> None:
    kafka = Kafka(tmp_path, stack.downloads, "127.0.0.1", _free_port_pair())
    kafka.launch(find_jdk)
    record = kafka.pid_file.read()

    try:
        kafka.wait_ready()
    finally:
        stopped = kafka.stop()

    assert stopped
    assert record is not None
    assert not Path(f"/proc/{record.pid}").exists()
    assert not kafka.pid_file.path.exists()


@pytest.fixture
def listener() -> Iterator[int]:
    """A port held by this test process, not by the stack."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_refuses_a_port_it_did_not_take(listener: int, tmp_path: Path) -> None:
    search = OpenSearch(tmp_path, tmp_path / "downloads", "127.0.0.1", listener)

    with pytest.raises(StackError, match=f"held by pid {os.getpid()}"):
        search.launch(find_jdk)

    assert search.status().state is State.FOREIGN
    assert not (tmp_path / "downloads").exists()


def test_stale_pid_file_reads_as_stopped(tmp_path: Path) -> None:
    kafka = Kafka(tmp_path, tmp_path / "downloads", "127.0.0.1", _free_port_pair())
    kafka.folder.mkdir(parents=True)
    kafka.pid_file.path.write_text("999999999 12345\n")

    status = kafka.status()

    assert status.state is State.STOPPED
    assert status.pid is None


@pytest.mark.parametrize(
    "bad",
    [
        Settings(kafka=KafkaSettings(bootstrap_servers="10.1.2.3:9092")),
        Settings(opensearch=OpenSearchSettings(url="https://127.0.0.1:9200")),
        Settings(opensearch=OpenSearchSettings(url="http://search.example:9200")),
    ],
    ids=["remote-kafka", "https", "remote-opensearch"],
)
def test_binds_only_local_plain_addresses(bad: Settings) -> None:
    with pytest.raises(ConfigurationError):
        Stack(bad)


def _free_port_pair() -> int:
    """A port ``p`` with ``p + 1`` free as well, as Kafka's controller needs."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not _in_use(port) and not _in_use(port + 1):
            return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


def _in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
