"""docker-compose.yml runs the same topology as the jar-based local stack.

No Docker engine runs here, so the file is checked as data: images, ports,
security, heaps and every broker setting that is not about the container.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from indexer.settings import Settings
from indexer.stack import kafka, opensearch

COMPOSE = Path(__file__).parent.parent / "docker-compose.yml"

# Listeners and paths differ inside a container; everything else must match.
CONTAINER_SPECIFIC = {
    "listeners",
    "advertised.listeners",
    "controller.quorum.bootstrap.servers",
    "log.dirs",
    "path.home",
    "path.data",
    "path.logs",
    "network.host",
    "http.port",
    "transport.port",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = compose["services"]
    return found


def test_runs_kafka_and_opensearch(services: dict[str, Any]) -> None:
    assert set(services) == {"kafka", "opensearch"}
    assert services["kafka"]["image"] == f"apache/kafka:{kafka.VERSION}"
    image = f"opensearchproject/opensearch:{opensearch.VERSION}"
    assert services["opensearch"]["image"] == image


def test_publishes_default_ports_on_loopback_only(services: dict[str, Any]) -> None:
    defaults = Settings()
    kafka_port = defaults.kafka.bootstrap_servers.rpartition(":")[2]
    search_port = defaults.opensearch.url.rpartition(":")[2]

    assert services["kafka"]["ports"] == [f"127.0.0.1:{kafka_port}:9092"]
    assert services["opensearch"]["ports"] == [f"127.0.0.1:{search_port}:9200"]


def test_opensearch_is_single_node_without_security(services: dict[str, Any]) -> None:
    environment = services["opensearch"]["environment"]

    assert environment["DISABLE_SECURITY_PLUGIN"] == "true"
    assert environment["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
    assert environment["discovery.type"] == "single-node"


def test_heaps_match_the_local_stack(services: dict[str, Any]) -> None:
    kafka_heap = services["kafka"]["environment"]["KAFKA_HEAP_OPTS"]
    search_heap = services["opensearch"]["environment"]["OPENSEARCH_JAVA_OPTS"]

    assert kafka_heap.split() == [f"-Xms{kafka.HEAP}", f"-Xmx{kafka.HEAP}"]
    assert search_heap.split() == [f"-Xms{opensearch.HEAP}", f"-Xmx{opensearch.HEAP}"]


def test_broker_settings_match_the_local_stack(
    services: dict[str, Any], tmp_path: Path
) -> None:
    broker = kafka.Kafka(tmp_path, tmp_path, "127.0.0.1", 9092)
    environment = services["kafka"]["environment"]

    for key, value in broker.properties().items():
        if key not in CONTAINER_SPECIFIC:
            variable = "KAFKA_" + key.upper().replace(".", "_")
            assert str(environment.get(variable)).lower() == str(value).lower(), key


def test_node_settings_match_the_local_stack(
    services: dict[str, Any], tmp_path: Path
) -> None:
    node = opensearch.OpenSearch(tmp_path, tmp_path, "127.0.0.1", 9200)
    environment = services["opensearch"]["environment"]

    for key, value in node.node_settings().items():
        if key not in CONTAINER_SPECIFIC:
            assert str(environment.get(key)).lower() == str(value).lower(), key


@pytest.mark.parametrize("name", ["kafka", "opensearch"])
def test_each_service_has_a_healthcheck(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]

    assert check["test"][0] == "CMD-SHELL"
    assert "127.0.0.1" in check["test"][1]
    assert check["retries"] >= 1
