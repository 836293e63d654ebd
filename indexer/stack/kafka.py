"""A single-node Kafka in KRaft mode: broker and controller in one JVM.

Topics are never created on first use (the indexer declares its own), every
internal topic has one replica, and the cleaner wakes often enough for
compaction to be seen within a test. Settings:
https://kafka.apache.org/documentation/#brokerconfigs
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from indexer.errors import StackError
from indexer.stack.fetch import Artifact, fetch_jars
from indexer.stack.jdk import Jdk
from indexer.stack.process import is_listening
from indexer.stack.server import Server

VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
HEAP = "512m"
FORMAT_TIMEOUT_S = 120
PROTOCOLS = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"

# Kafka 4.1 logs through slf4j 1.7, whose log4j2 binding is log4j-slf4j-impl.
ARTIFACTS = (
    Artifact("org.apache.kafka", "kafka_2.13", VERSION),
    Artifact("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
)

# The server logs its own shutdown, so log4j must not close before it does.
LOG4J2 = """\
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.filePattern = {logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
"""

log = logging.getLogger(__name__)


class Kafka(Server):
    name = "kafka"
    start_timeout_s = 90.0
    stop_timeout_s = 30.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.controller_port)

    @property
    def log_files(self) -> Sequence[Path]:
        return (self.logs / "stdout.log", self.logs / "server.log")

    def prepare(self, jdk: Jdk) -> list[str]:
        lib = fetch_jars(self.downloads / f"kafka-{VERSION}", ARTIFACTS)
        self._write_config()
        if not (self.data / "meta.properties").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            self._format(jdk, lib)

        return [
            *self._java(jdk, lib),
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            f"-XX:ErrorFile={self.logs}/hs_err_pid%p.log",
            f"-Dkafka.logs.dir={self.logs}",
            "kafka.Kafka",
            str(self.config / "server.properties"),
        ]

    def answers(self, timeout_s: float) -> bool:
        if not is_listening(self.host, self.port, timeout_s):
            return False

        # A thread of its own gives the probe an event loop even when the caller
        # already runs one, as an async test asking for status() does.
        with ThreadPoolExecutor(max_workers=1) as pool:
            probe = pool.submit(asyncio.run, _broker_count(self.address, timeout_s))
            return probe.result() > 0

    def _java(self, jdk: Jdk, lib: Path) -> list[str]:
        return [
            str(jdk.java),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.config / 'log4j2.properties'}",
            "-cp",
            str(lib / "*"),
        ]

    def _write_config(self) -> None:
        properties = self.properties()
        lines = [f"{key}={value}" for key, value in properties.items()]
        (self.config / "server.properties").write_text("\n".join(lines) + "\n")
        (self.config / "log4j2.properties").write_text(LOG4J2.format(logs=self.logs))

    def properties(self) -> dict[str, object]:
        """The broker's ``server.properties``; docker-compose.yml mirrors them."""
        broker = f"PLAINTEXT://{self.host}:{self.port}"
        controller = f"CONTROLLER://{self.host}:{self.controller_port}"
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": controller.partition("//")[2],
            "listeners": f"{broker},{controller}",
            "advertised.listeners": f"{broker},{controller}",
            "listener.security.protocol.map": PROTOCOLS,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": self.data,
            "num.partitions": 1,
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.cleaner.enable": "true",
            "log.cleaner.threads": 1,
            "log.cleaner.dedupe.buffer.size": 32 * 1024 * 1024,
            "log.cleaner.backoff.ms": 1000,
            "log.retention.check.interval.ms": 10_000,
        }

    def _format(self, jdk: Jdk, lib: Path) -> None:
        cluster_id = _cluster_id()
        log.info(
            "formatting Kafka storage in %s (cluster id %s)", self.data, cluster_id
        )
        command = [
            *self._java(jdk, lib),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(self.config / "server.properties"),
        ]

        try:
            done = subprocess.run(
                command,
                check=False,
                capture_output=True,
                text=True,
                timeout=FORMAT_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"formatting Kafka storage failed: {exc}") from exc
        if done.returncode != 0:
            raise StackError(
                f"formatting Kafka storage in {self.data} failed:\n"
                + (done.stdout + done.stderr)[-4000:]
            )


def _cluster_id() -> str:
    """A random cluster id as ``StorageTool random-uuid`` makes it, in-process.

    Kafka writes ids as unpadded URL-safe base64 of 16 bytes, and never hands
    out one starting with "-" since a command line would read it as an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


async def _broker_count(address: str, timeout_s: float) -> int:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=address,
        client_id="indexer-stack",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (KafkaError, OSError):
        log.debug("Kafka on %s gave no metadata yet", address, exc_info=True)
        return 0
    finally:
        await admin.close()
    return len(cluster.get("brokers", []))
