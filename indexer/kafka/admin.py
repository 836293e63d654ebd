"""The project's topics, created with their configuration when missing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from indexer.errors import KafkaUnavailable
from indexer.settings import Settings

log = logging.getLogger(__name__)

LEADER_WAIT_ROUNDS = 150
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def project_topics(settings: Settings) -> list[TopicSpec]:
    topics = settings.topics
    return [
        TopicSpec(topics.changelog, topics.changelog_partitions, COMPACTED),
        TopicSpec(topics.commands, topics.commands_partitions),
        TopicSpec(topics.events, topics.commands_partitions),
        TopicSpec(topics.deadletter, topics.changelog_partitions),
        TopicSpec(topics.builds, 1, COMPACTED),
    ]


async def ensure_topics(settings: Settings, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that are missing; return the names created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-admin",
        request_timeout_ms=int(settings.kafka.request_timeout_s * 1000),
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            await _create(admin, missing, settings.topics.replication_factor)
            await _wait_for_leaders(admin, [spec.name for spec in missing])
        return [spec.name for spec in missing]
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot create topics: {exc}") from exc
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """New partitions take a moment to elect leaders; writes fail until then."""
    for _ in range(LEADER_WAIT_ROUNDS):
        described = await admin.describe_topics(names)
        if all(
            topic["error_code"] == 0
            and all(p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        await asyncio.sleep(0.1)
    raise KafkaUnavailable(f"the new topics {names} have no partition leaders")


async def _create(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], replication: int
) -> None:
    new = [
        NewTopic(spec.name, spec.partitions, replication, topic_configs=spec.config)
        for spec in specs
    ]
    try:
        await admin.create_topics(new)
    except TopicAlreadyExistsError:
        log.info("topics were created concurrently: %s", [s.name for s in specs])
        return
    log.info("created topics %s", [spec.name for spec in specs])


async def partition_count(bootstrap_servers: str, topic: str) -> int:
    """How many partitions ``topic`` has now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        described = await admin.describe_topics([topic])
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot describe {topic}: {exc}") from exc
    finally:
        await admin.close()
    partitions = described[0].get("partitions") or []
    if described[0].get("error_code") or not partitions:
        raise KafkaUnavailable(f"the topic {topic} does not exist")
    return len(partitions)
