"""``indexer status``: a table per tenant, then the worker group's lag."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC
from typing import Any

from rich.console import Console
from rich.table import Table

from indexer.jobs import Job
from indexer.settings import Settings
from indexer.status import Status, gather

NONE = "-"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="each tenant's index and last reindex, and the worker lag"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to read the jobs"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    status = asyncio.run(gather(Settings(), args.timeout))
    console = Console()
    console.print(tenants_table(status))
    console.print(lag_table(status))
    return 0


def tenants_table(status: Status) -> Table:
    table = Table(title="Tenants")
    for column in ("tenant", "alias", "live generation", "documents"):
        table.add_column(column, no_wrap=True)
    table.add_column("last reindex", no_wrap=True)
    table.add_column("outcome")
    for tenant in status.tenants:
        documents = NONE if tenant.documents is None else str(tenant.documents)
        table.add_row(
            tenant.tenant,
            tenant.alias,
            tenant.live or NONE,
            documents,
            *_last_reindex(tenant.last_job),
        )
    return table


def _last_reindex(job: Job | None) -> tuple[str, str]:
    if job is None:
        return NONE, NONE
    moment = job.modified_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    outcome = f"{job.status.value} {job.processed}/{job.expected}"
    if job.message:
        outcome += f": {job.message}"
    return moment, outcome


def lag_table(status: Status) -> Table:
    table = Table(title=f"Lag of {status.group} on {status.topic}: {status.total_lag}")
    for column in ("partition", "committed", "end", "lag"):
        table.add_column(column, justify="right")
    for partition in status.lag:
        committed = NONE if partition.committed is None else str(partition.committed)
        table.add_row(
            str(partition.partition), committed, str(partition.end), str(partition.lag)
        )
    return table
