"""The ``indexer`` command: one subcommand per concept, each in its module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from indexer.errors import IndexerError
from indexer.logs import configure

# Each module has ``register(subparsers)`` and sets ``func`` on its parsers.
COMMANDS = (
    "stack",
    "api",
    "clients",
    "worker",
    "products",
    "reindex",
    "status",
    "demo",
)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indexer", description="Streaming product indexer for OpenSearch."
    )
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR"
    )
    parser.add_argument(
        "--log-json", action="store_true", help="write log lines as JSON objects"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"indexer.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    configure(level=args.log_level, json_lines=args.log_json)
    try:
        code: int = args.func(args)
    except IndexerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
