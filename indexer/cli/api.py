"""``indexer api``: serve the HTTP API with uvicorn, on loopback by default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn

from indexer.api import create_app
from indexer.api.openapi import write_copy
from indexer.settings import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("api", help="serve the reindex and token API")
    parser.add_argument("--host", help="address to bind (default: INDEXER_API__HOST)")
    parser.add_argument(
        "--port", type=int, help="port to bind (default: INDEXER_API__PORT)"
    )
    parser.add_argument(
        "--write-openapi",
        type=Path,
        metavar="DIR",
        help="write the OpenAPI document into DIR and exit",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    if args.write_openapi is not None:
        print(write_copy(args.write_openapi))
        return 0

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api.host,
        port=args.port or settings.api.port,
        log_config=None,
        server_header=False,
        # Access lines carry query strings, where a careless client may put a
        # token; the app logs what it does itself, without them.
        access_log=False,
    )
    return 0
