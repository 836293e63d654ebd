"""Changelog records into bulk operations on one or more indexes per tenant."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from indexer.errors import BadRecord
from indexer.layout import Layout
from indexer.metrics.worker import DELETED, INDEXED, REJECTED
from indexer.search import BulkWriter, Operation, Outcome, Result
from indexer.worker.records import Change, Record, parse, tenant_of
from indexer.worker.state import Tally

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    index: str
    is_alias: bool


# (tenant, partition) -> the indexes its changes go to.
Route = Callable[[str, int], Awaitable[list[Target]]]


@dataclass(frozen=True, slots=True)
class Rejection:
    record: Record
    tenant: str | None
    code: str
    reason: str


@dataclass
class Written:
    """What a batch did: counts per (index, partition), and rejected records.

    ``documents`` counts each record once, whatever number of indexes it went
    to, per (tenant, kind): ``indexed``, ``deleted`` or ``rejected``.
    """

    tallies: dict[tuple[str, int], Tally] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    gone_aliases: set[str] = field(default_factory=set)
    documents: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, index: str, partition: int, **counts: int) -> None:
        key = (index, partition)
        self.tallies[key] = self.tallies.get(key, Tally()).plus(Tally(**counts))


OUTCOME_FIELD = {
    Outcome.CREATED: "created",
    Outcome.UPDATED: "updated",
    Outcome.DELETED: "deleted",
    Outcome.NOT_FOUND: "not_found",
    Outcome.STALE: "stale",
    Outcome.REJECTED: "rejected",
}
# What a record's first write says about it; a rejection is counted once, below.
DOCUMENT_KIND = {
    Outcome.CREATED: INDEXED,
    Outcome.UPDATED: INDEXED,
    Outcome.STALE: INDEXED,
    Outcome.DELETED: DELETED,
    Outcome.NOT_FOUND: DELETED,
}


class Sink:
    def __init__(self, writer: BulkWriter, max_document_bytes: int) -> None:
        self._writer = writer
        self._max_document_bytes = max_document_bytes
        self._layout: tuple[Layout, int] | None = None

    def expect(self, layout: Layout, partitions: int) -> None:
        """From now on, refuse records off their tenant's home partitions."""
        self._layout = (layout, partitions)

    async def write(self, records: Sequence[Record], route: Route) -> Written:
        written = Written()
        changes = self._parse(records, written)
        operations, origins = await self._plan(changes, route)
        results = await self._writer.write(operations)
        self._record(operations, origins, results, written)
        for rejection in written.rejections:
            written.documents[(rejection.tenant or "", REJECTED)] += 1
        return written

    def _parse(self, records: Sequence[Record], written: Written) -> list[Change]:
        changes = []
        for record in records:
            try:
                change = parse(record, self._max_document_bytes)
                self._check_home(change)
                changes.append(change)
            except BadRecord as exc:
                written.rejections.append(
                    Rejection(record, tenant_of(record), exc.code, exc.message)
                )
        return changes

    def _check_home(self, change: Change) -> None:
        """A record off its homes would be missed by the tenant's reindexes."""
        if self._layout is None:
            return
        layout, partitions = self._layout
        if not layout.belongs(change.tenant, change.record.partition, partitions):
            homes = layout.homes(change.tenant, partitions)
            raise BadRecord(
                "misplaced",
                f"tenant {change.tenant}'s records belong on partitions {homes} "
                f"of {partitions} ({layout.partitioning} layout, spread "
                f"{layout.spread}), this one is on {change.record.partition}: "
                "publish with the layout's partitioner",
            )

    async def _plan(
        self, changes: list[Change], route: Route
    ) -> tuple[list[Operation], list[Change]]:
        operations: list[Operation] = []
        origins: list[Change] = []
        for change in changes:
            for target in await route(change.tenant, change.record.partition):
                operations.append(
                    Operation(
                        index=target.index,
                        doc_id=change.product_id,
                        source=change.source,
                        version=change.version,
                        require_alias=target.is_alias,
                    )
                )
                origins.append(change)
        return operations, origins

    def _record(
        self,
        operations: list[Operation],
        origins: list[Change],
        results: list[Result],
        written: Written,
    ) -> None:
        # Plain counters per item, one Tally per (index, partition) at the end:
        # a pydantic model per item cost more than the bulk request's parsing.
        counts: dict[tuple[str, int], Counter[str]] = {}
        rejected: set[int] = set()
        previous: Change | None = None
        for operation, change, result in zip(operations, origins, results, strict=True):
            if change is not previous:
                previous = change
                kind = DOCUMENT_KIND.get(result.outcome)
                if kind is not None:
                    written.documents[(change.tenant, kind)] += 1
            if result.outcome is Outcome.GONE:
                if operation.require_alias:
                    written.gone_aliases.add(operation.index)
                continue
            key = (operation.index, change.record.partition)
            counter = counts.setdefault(key, Counter())
            counter["read"] += 1
            counter[OUTCOME_FIELD[result.outcome]] += 1
            if result.outcome is Outcome.REJECTED and id(change) not in rejected:
                rejected.add(id(change))
                written.rejections.append(
                    Rejection(change.record, change.tenant, "mapping", result.reason)
                )
        for (index, partition), counter in counts.items():
            written.count(index, partition, **counter)
