"""Publishing product changes to the changelog, as a product service would.

await publish(settings, "acme", documents)      # upserts
await delete(settings, "acme", ["sku-1"])       # tombstones
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from indexer.errors import BadRecord
from indexer.events import ProductKey
from indexer.kafka import Producer
from indexer.settings import Settings

CHUNK = 2000
CATALOGS_VARIABLE = "INDEXER_CATALOGS"


def catalog_folder() -> Path:
    """Where the real catalogs are: ``$INDEXER_CATALOGS``, else the folder
    ``../shared/data/catalogs`` beside the checkout this package runs from."""
    configured = os.environ.get(CATALOGS_VARIABLE)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[1]
    return checkout.parent / "shared" / "data" / "catalogs"


def changelog_producer(settings: Settings, client_suffix: str) -> Producer:
    """A producer that puts each record on the partition the layout names."""
    return Producer(settings.kafka, client_suffix, settings.topics.layout.partitioner)


def read_documents(path: Path) -> Iterator[dict[str, Any]]:
    """Product documents of a JSON Lines file, gzip or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadRecord(
                    "invalid_json", f"{path}:{number} is not JSON: {exc}"
                ) from exc
            yield document


def encode(tenant: str, document: dict[str, Any]) -> tuple[bytes, bytes]:
    product_id = document.get("id")
    if not isinstance(product_id, str) or not product_id:
        raise BadRecord("missing_id", "a product document needs a non-empty id")
    key = ProductKey(tenant, product_id).encode()
    return key, json.dumps(document, separators=(",", ":")).encode()


async def publish(
    settings: Settings,
    tenant: str,
    documents: Iterable[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish upserts; returns how many Kafka acknowledged."""
    records = (encode(tenant, document) for document in documents)
    return await _send(settings, _chunks(records), progress)


async def delete(settings: Settings, tenant: str, product_ids: Iterable[str]) -> int:
    """Publish a tombstone for each product id."""
    records = ((ProductKey(tenant, pid).encode(), None) for pid in product_ids)
    return await _send(settings, _chunks(records), None)


async def _send(
    settings: Settings,
    chunks: AsyncIterator[list[tuple[bytes, bytes | None]]],
    progress: Callable[[int], None] | None,
) -> int:
    sent = 0
    async with changelog_producer(settings, "products") as producer:
        async for chunk in chunks:
            await producer.send_many(settings.topics.changelog, list(chunk))
            sent += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return sent


async def _chunks(
    records: Iterable[tuple[bytes, bytes | None]],
) -> AsyncIterator[list[tuple[bytes, bytes | None]]]:
    chunk: list[tuple[bytes, bytes | None]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
