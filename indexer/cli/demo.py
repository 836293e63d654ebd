"""``indexer demo``: the whole flow on real catalogs, or ``--stop`` it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from indexer.errors import ConfigurationError
from indexer.events import is_tenant
from indexer.products import catalog_folder
from indexer.settings import Settings

TENANTS = ("myntra", "amazontoys", "decathlon")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole flow on real catalogs and prove the result"
    )
    parser.add_argument(
        "--catalog",
        action="append",
        type=Path,
        default=[],
        help="a JSON Lines catalog (repeat, with one --tenant each)",
    )
    parser.add_argument("--tenant", action="append", default=[])
    parser.add_argument(
        "--stop", action="store_true", help="stop the API and worker it started"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from indexer.demo.run import Catalog, Demo, services

    settings = Settings()
    if args.stop:
        for service in services(settings):
            print(f"{service.name}: {'stopped' if service.stop() else 'not running'}")
        return 0
    catalogs = [Catalog(t, p) for t, p in _catalogs(args)]
    # The demo narrates; the services' own logs go to their files.
    logging.getLogger("indexer").setLevel(logging.WARNING)
    Demo(settings, catalogs).run()
    return 0


def _catalogs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    if len(args.catalog) != len(args.tenant):
        raise ConfigurationError("give one --tenant NAME for each --catalog PATH")
    pairs = list(zip(args.tenant, args.catalog, strict=True))
    if not pairs:
        folder = catalog_folder()
        pairs = [(tenant, folder / f"{tenant}.jsonl.gz") for tenant in TENANTS]
    for tenant, path in pairs:
        if not is_tenant(tenant):
            raise ConfigurationError(f"{tenant!r} is no tenant name: 3 to 16 of a-z0-9")
        if not path.is_file():
            raise ConfigurationError(
                f"no catalog at {path}. Run the demo on a catalog file of your own: "
                "indexer demo --catalog PATH --tenant NAME (JSON Lines, gzip or not)"
            )
    return pairs
