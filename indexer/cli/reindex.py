"""``indexer reindex TENANT [--wait]``: publish a reindex command.

With ``--wait``, a progress bar follows the build from the events about the
command, in changelog records read, and the outcome is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from indexer.commands import Outcome, reindex_and_wait, request_reindex
from indexer.errors import ConfigurationError
from indexer.events import (
    IndexingEvent,
    ReindexCompleted,
    ReindexProgress,
    ReindexStarted,
    is_tenant,
)
from indexer.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("reindex", help="rebuild a tenant's index")
    parser.add_argument("tenant")
    parser.add_argument("--wait", action="store_true", help="wait for the outcome")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not is_tenant(args.tenant):
        raise ConfigurationError(
            f"{args.tenant!r} is no tenant: 3 to 16 of [a-z0-9], starting with a letter"
        )
    settings = Settings()
    if not args.wait:
        command = asyncio.run(request_reindex(settings, args.tenant))
        print(f"requested reindex of {command.tenant}: command {command.command_id}")
        return 0

    console = Console()
    with _progress(console) as progress:
        bar = BuildBar(progress, args.tenant)
        outcome = asyncio.run(
            reindex_and_wait(settings, args.tenant, args.timeout, on_event=bar.show)
        )
    print(describe(outcome))
    return 0 if isinstance(outcome, ReindexCompleted) else 1


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        console=console,
    )


class BuildBar:
    """One bar moved by the events about one command."""

    def __init__(self, progress: Progress, tenant: str) -> None:
        self._progress = progress
        self._tenant = tenant
        self._task: TaskID = progress.add_task(
            f"{tenant}: waiting for a worker", total=None
        )

    def show(self, event: IndexingEvent) -> None:
        if isinstance(event, ReindexStarted):
            self._describe(f"rewinding into {event.generation}")
        elif isinstance(event, ReindexProgress):
            self._progress.update(
                self._task, total=event.expected, completed=event.processed
            )
        elif isinstance(event, ReindexCompleted):
            total = self._progress.tasks[0].total
            if total is not None:
                self._progress.update(self._task, completed=total)
            self._describe(f"{event.generation} is live")
        else:
            self._describe("failed")

    def _describe(self, state: str) -> None:
        self._progress.update(self._task, description=f"{self._tenant}: {state}")


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, ReindexCompleted):
        return (
            f"{outcome.tenant}: {outcome.generation} is live behind {outcome.alias} "
            f"with {outcome.documents} documents ({outcome.indexed} indexed, "
            f"{outcome.deleted} deleted, {outcome.rejected} rejected) "
            f"in {outcome.duration_s:.1f}s"
        )
    return f"{outcome.tenant}: reindex failed: {outcome.reason}"
