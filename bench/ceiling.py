"""The ceiling: the same documents bulk-loaded from a file by opensearch-py.

Two loaders, each as good as the library makes it: ``parallel_bulk`` (threads
over the synchronous client) and several ``async_bulk`` calls at once over
shares of the file. The index has the project's mapping and the settings of a
generation being built (no refresh until the end). Each document's line is
sent as it is read (a string source is not serialised again); only its id is
parsed out. The time runs from opening the file to the final refresh.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opensearchpy import AsyncOpenSearch, OpenSearch
from opensearchpy.helpers import async_bulk, parallel_bulk

from indexer.search.mapping import MAPPING, index_settings
from indexer.settings import OpenSearchSettings


@dataclass(frozen=True)
class Loader:
    kind: str  # "parallel_bulk" or "async_bulk"
    chunk_size: int
    concurrency: int

    @property
    def label(self) -> str:
        return f"{self.kind} chunk {self.chunk_size} x{self.concurrency}"


@dataclass(frozen=True)
class Load:
    loader: Loader
    documents: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.documents / self.elapsed_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "loader": self.loader.label,
            "documents": self.documents,
            "elapsed_s": self.elapsed_s,
            "docs_per_s": self.rate,
        }


def grid(chunks: list[int], concurrencies: list[int]) -> list[Loader]:
    return [
        Loader(kind, chunk, concurrency)
        for kind in ("parallel_bulk", "async_bulk")
        for chunk, concurrency in itertools.product(chunks, concurrencies)
    ]


def _actions(path: Path, index: str, share: int = 0, shares: int = 1) -> Iterator[Any]:
    with path.open(encoding="utf-8") as lines:
        for line in itertools.islice(lines, share, None, shares):
            source = line.rstrip("\n")
            yield {"_index": index, "_id": json.loads(source)["id"], "_source": source}


async def load(
    settings: OpenSearchSettings, loader: Loader, path: Path, index: str
) -> Load:
    """Create ``index``, load ``path`` into it, refresh; drop it afterwards."""
    body = {"settings": index_settings(settings, building=True), "mappings": MAPPING}
    search = AsyncOpenSearch(hosts=[settings.url], timeout=120)
    try:
        await search.indices.create(index=index, body=body)
        began = time.perf_counter()
        if loader.kind == "parallel_bulk":
            loaded = await asyncio.to_thread(_parallel, settings, loader, path, index)
        else:
            loaded = await _async(search, loader, path, index)
        await search.indices.refresh(index=index)
        elapsed = time.perf_counter() - began
        count = (await search.count(index=index))["count"]
        if count != loaded:
            raise RuntimeError(f"{index} holds {count} of {loaded} documents")
        return Load(loader, loaded, elapsed)
    finally:
        await search.indices.delete(index=index, ignore_unavailable=True)
        await search.close()


def _parallel(
    settings: OpenSearchSettings, loader: Loader, path: Path, index: str
) -> int:
    client = OpenSearch(
        hosts=[settings.url], timeout=120, pool_maxsize=loader.concurrency + 2
    )
    try:
        results = parallel_bulk(
            client,
            _actions(path, index),
            thread_count=loader.concurrency,
            chunk_size=loader.chunk_size,
            queue_size=loader.concurrency * 2,
        )
        return sum(1 for ok, _ in results if ok)
    finally:
        client.close()


async def _async(
    search: AsyncOpenSearch, loader: Loader, path: Path, index: str
) -> int:
    shares = loader.concurrency
    loads = [
        async_bulk(
            search,
            _actions(path, index, share, shares),
            chunk_size=loader.chunk_size,
            stats_only=True,
        )
        for share in range(shares)
    ]
    return sum(ok for ok, _ in await asyncio.gather(*loads))
