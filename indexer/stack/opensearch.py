"""A single-node OpenSearch run as an embedded node from the Maven jars.

``java/SearchNode.java`` starts the node with the modules the indexer needs
(HTTP, language analysers, painless, reindex, extra field types); no security
plugin is present, so the node speaks plain HTTP. Single-node settings:
https://opensearch.org/docs/latest/install-and-configure/install-opensearch/index/
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import httpx

from indexer.stack.fetch import Artifact, compile_java, fetch_jars
from indexer.stack.jdk import Jdk
from indexer.stack.server import Server

VERSION = "2.19.4"
LOG4J_VERSION = "2.21.0"
HEAP = "512m"
TRANSPORT_OFFSET = 100
MAIN_CLASS = "SearchNode"

ARTIFACTS = (
    Artifact("org.opensearch", "opensearch", VERSION),
    Artifact("org.opensearch.plugin", "transport-netty4-client", VERSION),
    Artifact("org.opensearch.plugin", "analysis-common", VERSION),
    Artifact("org.opensearch.plugin", "lang-painless", VERSION),
    Artifact("org.opensearch.plugin", "reindex-client", VERSION),
    Artifact("org.opensearch.plugin", "mapper-extras-client", VERSION),
    Artifact("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
)

# The server logs its own shutdown, so log4j must not close before it does.
LOG4J2 = """\
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/opensearch.log
appender.file.filePattern = {logs}/opensearch.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{{ISO8601}}][%-5p][%c{{1.}}] %m%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
"""

log = logging.getLogger(__name__)


class OpenSearch(Server):
    name = "opensearch"
    start_timeout_s = 180.0
    stop_timeout_s = 30.0

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def transport_port(self) -> int:
        return self.port + TRANSPORT_OFFSET

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.transport_port)

    @property
    def log_files(self) -> Sequence[Path]:
        return (self.logs / "stdout.log", self.logs / "opensearch.log")

    def prepare(self, jdk: Jdk) -> list[str]:
        lib = fetch_jars(self.downloads / f"opensearch-{VERSION}", ARTIFACTS)
        source = resources.files("indexer.stack").joinpath("java", f"{MAIN_CLASS}.java")
        classes = compile_java(jdk, source.read_text(), MAIN_CLASS, lib)
        log4j2 = self.config / "log4j2.properties"
        log4j2.write_text(LOG4J2.format(logs=self.logs))
        (self.folder / "tmp").mkdir(exist_ok=True)

        return [
            str(jdk.java),
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
            "-XX:+UseG1GC",
            f"-XX:ErrorFile={self.logs}/hs_err_pid%p.log",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            f"-Djava.io.tmpdir={self.folder / 'tmp'}",
            f"-Dlog4j2.configurationFile={log4j2}",
            "-Dlog4j2.disable.jmx=true",
            "-cp",
            f"{classes}:{lib / '*'}",
            MAIN_CLASS,
            *(f"{key}={value}" for key, value in self.node_settings().items()),
        ]

    def answers(self, timeout_s: float) -> bool:
        try:
            response = httpx.get(f"{self.address}/_cluster/health", timeout=timeout_s)
            status = response.json().get("status")
        except (httpx.HTTPError, ValueError, AttributeError):
            return False
        return response.status_code == 200 and status in ("yellow", "green")

    def node_settings(self) -> dict[str, object]:
        """The node's settings; docker-compose.yml mirrors those not about paths."""
        return {
            "cluster.name": "indexer-local",
            "node.name": "node-1",
            "path.home": self.folder,
            "path.data": self.data,
            "path.logs": self.logs,
            "discovery.type": "single-node",
            "network.host": self.host,
            "http.port": self.port,
            "transport.port": self.transport_port,
            # Small disks would trip the flood-stage watermark and make every
            # index read-only in the middle of a test run.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }
