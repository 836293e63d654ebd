"""``indexer load|update|delete``: publish product changes to the changelog."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from indexer import products
from indexer.errors import ConfigurationError
from indexer.events import is_tenant
from indexer.kafka import ensure_topics, project_topics
from indexer.settings import Settings


def register(subparsers: Any) -> None:
    load = subparsers.add_parser("load", help="publish a JSON Lines catalog")
    load.add_argument("file", type=Path, help="JSON Lines, gzip or not")
    load.add_argument("--tenant", required=True)
    load.set_defaults(func=run_load)

    update = subparsers.add_parser("update", help="publish changed products")
    update.add_argument("tenant")
    update.add_argument("documents", nargs="+", help="product documents as JSON")
    update.set_defaults(func=run_update)

    remove = subparsers.add_parser("delete", help="publish product tombstones")
    remove.add_argument("tenant")
    remove.add_argument("ids", nargs="+", help="product ids")
    remove.set_defaults(func=run_delete)


def _tenant(value: str) -> str:
    if not is_tenant(value):
        raise ConfigurationError(
            f"{value!r} is no tenant: 3 to 16 of [a-z0-9], starting with a letter"
        )
    return value


def run_load(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    tenant = _tenant(args.tenant)
    settings = Settings()
    total = _count_lines(args.file)
    asyncio.run(_ready(settings))
    with Progress() as bar:
        task = bar.add_task(f"{tenant}: {args.file.name}", total=total)
        sent = asyncio.run(
            products.publish(
                settings,
                tenant,
                products.read_documents(args.file),
                progress=lambda n: bar.advance(task, n),
            )
        )
    print(f"published {sent} products of {tenant} to {settings.topics.changelog}")
    return 0


def run_update(args: argparse.Namespace) -> int:
    tenant = _tenant(args.tenant)
    documents = [_document(n, text) for n, text in enumerate(args.documents, 1)]
    settings = Settings()
    asyncio.run(_ready(settings))
    sent = asyncio.run(products.publish(settings, tenant, documents))
    print(f"published {sent} changes of {tenant}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    tenant = _tenant(args.tenant)
    settings = Settings()
    asyncio.run(_ready(settings))
    sent = asyncio.run(products.delete(settings, tenant, args.ids))
    print(f"published {sent} tombstones of {tenant}")
    return 0


async def _ready(settings: Settings) -> None:
    """The topics exist, and the changelog's recorded layout is these settings'."""
    from indexer.worker.layout import check

    await ensure_topics(settings, project_topics(settings))
    await check(settings)


def _document(number: int, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"document {number} is not JSON: {exc}") from exc


def _count_lines(path: Path) -> int:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())
