"""``indexer worker``: run one worker process; start more to scale out."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from indexer.kafka import ensure_topics, project_topics
from indexer.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker", help="index the changelog and run reindex builds"
    )
    parser.add_argument(
        "--web-port", type=int, help="port of the worker's web server (6066)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from indexer.worker import create_app
    from indexer.worker.layout import settle

    settings = Settings()
    if args.web_port:
        settings.worker.web_port = args.web_port
    asyncio.run(ensure_topics(settings, project_topics(settings)))
    asyncio.run(settle(settings))
    app, _ = create_app(settings)
    # Logging is configured by the entry point, plain or JSON, not by faust.
    worker = Worker(
        app, loglevel=args.log_level.lower(), quiet=True, override_logging=False
    )
    # faust's start-up spinner writes terminal codes into the log stream,
    # which breaks JSON lines; log lines already say what starts.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
