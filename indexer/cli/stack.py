"""``indexer stack up|down|status``: the local Kafka and OpenSearch.

``--owner-file`` lets a caller stop only what it started: ``up`` writes the
file only when it started a server, and ``down`` stops the servers named in
it only when the file exists. ``make test`` relies on this to leave a stack it
found running alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from indexer.settings import Settings
from indexer.stack import ServerStatus, Stack, State


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "stack", help="fetch, start and stop a local Kafka and OpenSearch"
    )
    commands = parser.add_subparsers(dest="stack_command", required=True)

    up = commands.add_parser("up", help="start the servers and wait until they answer")
    up.add_argument(
        "--owner-file", type=Path, help="written only if this call started a server"
    )
    up.set_defaults(func=_up)

    down = commands.add_parser("down", help="stop the servers this stack started")
    down.add_argument(
        "--owner-file", type=Path, help="stop only if this file exists, then delete it"
    )
    down.add_argument("--wipe", action="store_true", help="also delete their data")
    down.set_defaults(func=_down)

    status = commands.add_parser("status", help="exit code 0 only if all run")
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    stack = Stack(Settings())
    started = stack.up()

    if started and args.owner_file is not None:
        args.owner_file.parent.mkdir(parents=True, exist_ok=True)
        args.owner_file.write_text("\n".join(started) + "\n")
    print(f"started: {', '.join(started)}" if started else "already running")
    _print(stack, stack.status())
    return 0


def _down(args: argparse.Namespace) -> int:
    names = None
    if args.owner_file is not None:
        if not args.owner_file.exists():
            print(
                f"left running: {args.owner_file} is absent, this caller started none"
            )
            return 0
        names = args.owner_file.read_text().split()

    stopped = Stack(Settings()).down(names=names, wipe=args.wipe)
    if args.owner_file is not None:
        args.owner_file.unlink(missing_ok=True)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = Stack(Settings())
    servers = stack.status()
    _print(stack, servers)
    return 0 if all(server.state is State.RUNNING for server in servers) else 1


def _print(stack: Stack, servers: list[ServerStatus]) -> None:
    print(f"stack home: {stack.home} (jars in {stack.downloads})")
    for server in servers:
        pid = f"pid {server.pid}" if server.pid is not None else "no pid"
        print(
            f"  {server.name:<11} {server.state.value:<14} {pid:<10} "
            f"{server.address:<22} data and logs in {server.folder}"
        )
        if server.detail:
            print(f"  {'':<11} {server.detail}")
