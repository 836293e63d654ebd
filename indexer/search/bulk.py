"""Bulk writes with per-item outcomes and per-item retries.

Only the items that failed for a transient reason (429, 5xx, a lost
connection) are sent again, with capped exponential backoff; mapping and parse
errors come back as rejections for the dead-letter topic; a version conflict
means a newer state is already there and counts as success.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import TransportError

from indexer.metrics import WorkerMetrics
from indexer.search.backoff import Backoff

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    NOT_FOUND = "not_found"
    STALE = "stale"
    REJECTED = "rejected"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Operation:
    """An upsert (``source`` set) or a delete of one document in one index."""

    index: str
    doc_id: str
    source: bytes | None
    version: int
    require_alias: bool = False

    def encode(self) -> bytes:
        # The bytes json.dumps gave for the metadata dict, without building and
        # walking a dict per operation: only the two strings need escaping.
        meta = f'"_index": {_quoted(self.index)}, "_id": {_quoted(self.doc_id)}'
        if self.require_alias:
            meta += ', "require_alias": true'
        if self.source is None:
            return f'{{"delete": {{{meta}}}}}\n'.encode()
        meta += f', "version": {self.version:d}, "version_type": "external_gte"'
        return f'{{"index": {{{meta}}}}}\n'.encode() + self.source + b"\n"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    reason: str = ""


@dataclass
class BulkStats:
    requests: int = 0
    retries: int = 0
    bytes: int = 0


TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# Only what settling an item reads: the answer shrinks to a third and parses
# that much faster (_index, _id, _version, _shards, _seq_no are never read).
# https://opensearch.org/docs/latest/api-reference/common-parameters/
BULK_FILTER = "items.*.status,items.*.result,items.*.error"
# A write block (``index.blocks.write``, a closed or read-only index) answers
# 403: the operator lifts it and the writes go through, so they wait for it.
# https://opensearch.org/docs/latest/api-reference/index-apis/blocks/
BLOCKED = "cluster_block_exception"
RECHECKS = 3
RECHECK_PAUSE_S = 0.25


class BulkWriter:
    """Writes operations until each has a final outcome, or ``stopping``."""

    def __init__(
        self,
        client: AsyncOpenSearch,
        max_bytes: int,
        backoff: Callable[[], Backoff],
        metrics: WorkerMetrics | None = None,
        *,
        size: int = 500,
        concurrency: int = 1,
    ) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._size = size
        self._concurrency = concurrency
        self._backoff = backoff
        self._metrics = metrics if metrics is not None else WorkerMetrics()
        self.stats = BulkStats()

    async def write(self, operations: Sequence[Operation]) -> list[Result]:
        """Round after round; the chunks of one round go out side by side.

        A round names each document once, so its chunks cannot race on one.
        """
        results: list[Result | None] = [None] * len(operations)
        for positions in _rounds(operations):
            chunks = self._chunks(operations, positions)
            for start in range(0, len(chunks), self._concurrency):
                wave = chunks[start : start + self._concurrency]
                await asyncio.gather(
                    *(self._write_chunk(operations, c, results) for c in wave)
                )
        return [result or Result(Outcome.REJECTED, "no result") for result in results]

    def _chunks(
        self, operations: Sequence[Operation], positions: list[int]
    ) -> list[list[int]]:
        """Chunks of at most ``size`` operations and ``max_bytes`` bytes."""
        chunks: list[list[int]] = [[]]
        size = 0
        for position in positions:
            operation = operations[position]
            length = len(operation.source or b"") + 200
            full = len(chunks[-1]) >= self._size or size + length > self._max_bytes
            if chunks[-1] and full:
                chunks.append([])
                size = 0
            chunks[-1].append(position)
            size += length
        return [chunk for chunk in chunks if chunk]

    async def _write_chunk(
        self,
        operations: Sequence[Operation],
        pending: list[int],
        results: list[Result | None],
    ) -> None:
        backoff = self._backoff()
        rechecked: dict[int, int] = {}
        while pending:
            items = await self._send([operations[i] for i in pending], backoff)
            retry = [
                position
                for position, item in zip(pending, items, strict=True)
                if not self._settle(position, item, results)
            ]
            retry += await self._recheck(operations, pending, results, rechecked)
            if retry:
                self.stats.retries += len(retry)
                self._metrics.retried("bulk_item", len(retry))
                index = operations[retry[0]].index
                log.warning(
                    "bulk: %d of %d items failed transiently (first in %s), "
                    "retrying in %.1fs",
                    len(retry),
                    len(pending),
                    index,
                    backoff.peek(),
                    extra={"index": index},
                )
                await backoff.wait()
            pending = retry

    async def _send(
        self, operations: list[Operation], backoff: Backoff
    ) -> list[dict[str, Any]]:
        body = b"".join(operation.encode() for operation in operations)
        while True:
            started = time.perf_counter()
            try:
                response = await self._client.bulk(
                    body=body, params={"filter_path": BULK_FILTER}
                )
            except (SearchConnectionError, TransportError) as exc:
                if not _transient(exc):
                    raise
                log.warning(
                    "bulk of %d items to %s failed (%s), retrying in %.1fs",
                    len(operations),
                    operations[0].index,
                    _describe(exc),
                    backoff.peek(),
                    extra={"index": operations[0].index},
                )
                self.stats.retries += 1
                self._metrics.retried("bulk_request")
                await backoff.wait()
                continue
            self._metrics.bulk_answered(time.perf_counter() - started, len(body))
            self.stats.requests += 1
            self.stats.bytes += len(body)
            items: list[dict[str, Any]] = response["items"]
            return items

    def _settle(
        self, position: int, item: dict[str, Any], results: list[Result | None]
    ) -> bool:
        """Record a final outcome; False when the item must be retried."""
        ((action, answer),) = item.items()
        status = int(answer.get("status", 500))
        if status < 300:
            results[position] = Result(Outcome(answer.get("result", "updated")))
            return True
        if status == 404 and action == "delete" and "error" not in answer:
            results[position] = Result(Outcome.NOT_FOUND)
            return True
        error = answer.get("error") or {}
        kind = str(error.get("type", "")) if isinstance(error, dict) else ""
        if status in TRANSIENT_STATUS or kind == BLOCKED:
            return False
        if status == 409:
            results[position] = Result(Outcome.STALE, kind)
            return True
        if kind == "index_not_found_exception":
            results[position] = Result(Outcome.GONE, kind)
            return True
        results[position] = Result(Outcome.REJECTED, _reason(error, status))
        return True

    async def _recheck(
        self,
        operations: Sequence[Operation],
        pending: list[int],
        results: list[Result | None],
        rechecked: dict[int, int],
    ) -> list[int]:
        """Conflicts with a deleted document's remembered version are retried.

        With ``gc_deletes`` at zero a refresh forgets the deleted version once
        the engine's coarse clock (200 ms ticks) has passed the delete; a
        conflict with a live document is a real one: a newer state is there.
        """
        stale = [
            position
            for position in pending
            if (result := results[position]) is not None
            and result.outcome is Outcome.STALE
            and operations[position].source is not None
            and rechecked.get(position, 0) < RECHECKS
        ]
        if not stale:
            return []
        docs = [
            {"_index": operations[p].index, "_id": operations[p].doc_id} for p in stale
        ]
        found = await self._client.mget(
            body={"docs": docs}, params={"_source": "false"}
        )
        missing = [
            position
            for position, doc in zip(stale, found["docs"], strict=True)
            if not doc.get("found", False) and "error" not in doc
        ]
        for position in stale:
            rechecked[position] = rechecked.get(position, 0) + 1
        if missing:
            await asyncio.sleep(RECHECK_PAUSE_S * max(rechecked[p] for p in missing))
        for index in {operations[p].index for p in missing}:
            await self._client.indices.refresh(index=index)
        for position in missing:
            results[position] = None
        return missing


def _rounds(operations: Sequence[Operation]) -> list[list[int]]:
    """Positions in rounds: the n-th write of a document goes in round n.

    A chunk is settled item by item, and a failed item is sent again after the
    others: with two writes of one document in a chunk, an upsert retried after
    its delete, or re-checked once that delete made it vanish, would bring the
    document back. One write per document per chunk keeps the log's order.
    """
    rounds: list[list[int]] = []
    writes: dict[tuple[str, str], int] = {}
    for position, operation in enumerate(operations):
        key = (operation.index, operation.doc_id)
        number = writes.get(key, 0)
        writes[key] = number + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(position)
    return rounds


def _transient(exc: Exception) -> bool:
    if isinstance(exc, SearchConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    return (isinstance(status, int) and status in TRANSIENT_STATUS) or (
        getattr(exc, "error", None) == BLOCKED
    )


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"status {status}" if isinstance(status, int) else type(exc).__name__


def _reason(error: Any, status: int) -> str:
    if not isinstance(error, dict):
        return f"status {status}: {error}"
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return reason[:1000]
