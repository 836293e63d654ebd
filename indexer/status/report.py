"""The state of the indexer, read from OpenSearch, the job topics and the group.

Tenants are those with a live alias or a reindex job. The worker group's lag is
group-wide: the changelog's partitions hold every tenant's records.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import TransportError

from indexer.errors import SearchUnavailable
from indexer.jobs import Job, JobView
from indexer.kafka import PartitionLag, group_lag
from indexer.search import Indexes, open_client
from indexer.settings import Settings


@dataclass(frozen=True)
class TenantStatus:
    tenant: str
    alias: str
    live: str | None
    documents: int | None
    last_job: Job | None


@dataclass(frozen=True)
class Status:
    tenants: list[TenantStatus]
    group: str
    topic: str
    lag: list[PartitionLag]

    @property
    def total_lag(self) -> int:
        return sum(partition.lag for partition in self.lag)


async def gather(settings: Settings, timeout_s: float) -> Status:
    async with JobView(settings) as view:
        book = await view.caught_up(timeout_s)
    lives = await _live_generations(settings)
    group, topic = settings.worker.app_id, settings.topics.changelog
    lag = await group_lag(settings, group, topic)

    tenants = []
    for tenant in sorted(set(lives) | book.tenants()):
        live, documents = lives.get(tenant, (None, None))
        jobs = book.of(tenant)
        tenants.append(
            TenantStatus(
                tenant=tenant,
                alias=f"{settings.opensearch.index_prefix}-{tenant}",
                live=live,
                documents=documents,
                last_job=jobs[0] if jobs else None,
            )
        )
    return Status(tenants=tenants, group=group, topic=topic, lag=lag)


async def _live_generations(settings: Settings) -> dict[str, tuple[str, int]]:
    """Each tenant's live generation and the documents its alias finds."""
    client = open_client(settings.opensearch)
    indexes = Indexes(client, settings.opensearch)
    try:
        lives = await indexes.lives()
        return {
            tenant: (generation, await indexes.count(indexes.alias(tenant)))
            for tenant, generation in lives.items()
        }
    except (SearchConnectionError, TransportError) as exc:
        raise SearchUnavailable(
            f"cannot read the indexes at {settings.opensearch.url}: {exc}"
        ) from exc
    finally:
        await client.close()
