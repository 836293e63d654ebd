"""``indexer reindex TENANT [--wait]``: publish a reindex command."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from indexer.commands import reindex_and_wait, request_reindex
from indexer.events import ReindexCompleted
from indexer.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("reindex", help="rebuild a tenant's index")
    parser.add_argument("tenant")
    parser.add_argument("--wait", action="store_true", help="wait for the outcome")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if not args.wait:
        command = asyncio.run(request_reindex(settings, args.tenant))
        print(f"requested reindex of {command.tenant}: command {command.command_id}")
        return 0
    outcome = asyncio.run(reindex_and_wait(settings, args.tenant, args.timeout))
    if isinstance(outcome, ReindexCompleted):
        print(
            f"{outcome.tenant}: {outcome.generation} is live behind {outcome.alias} "
            f"with {outcome.documents} documents ({outcome.indexed} indexed, "
            f"{outcome.deleted} deleted, {outcome.rejected} rejected) "
            f"in {outcome.duration_s:.1f}s"
        )
        return 0
    print(f"{outcome.tenant}: reindex failed: {outcome.reason}")
    return 1
