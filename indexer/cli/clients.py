"""``indexer clients add|list|remove``: who may ask the API for tokens.

A new client's secret is printed once, by ``add``; only its hash is kept.
"""

from __future__ import annotations

import argparse
from typing import Any

from indexer.auth import KNOWN_SCOPES, ClientRegistry
from indexer.settings import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "clients", help="register the OAuth2 clients of the token endpoint"
    )
    commands = parser.add_subparsers(dest="clients_command", required=True)

    add = commands.add_parser("add", help="register a client; prints its secret once")
    add.add_argument("client_id")
    add.add_argument(
        "--tenant",
        action="append",
        required=True,
        help="a tenant the client may act for (repeat for more)",
    )
    add.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=sorted(KNOWN_SCOPES),
        help="a scope the client may be granted (repeat for more)",
    )
    add.set_defaults(func=_add)

    listing = commands.add_parser("list", help="show the clients, never secrets")
    listing.set_defaults(func=_list)

    remove = commands.add_parser("remove", help="unregister a client")
    remove.add_argument("client_id")
    remove.set_defaults(func=_remove)


def _registry() -> ClientRegistry:
    return ClientRegistry(Settings().auth.clients_file)


def _add(args: argparse.Namespace) -> int:
    secret = _registry().add(args.client_id, args.tenant, args.scope)
    print(f"client_id:     {args.client_id}")
    print(f"client_secret: {secret}")
    print("The secret is shown only now; store it where the client runs.")
    return 0


def _list(args: argparse.Namespace) -> int:
    registry = _registry()
    clients = registry.clients()
    if not clients:
        print(f"no clients in {registry.path}")
        return 0
    for client in clients:
        print(
            f"{client.client_id}  tenants={','.join(client.tenants)}  "
            f"scopes={','.join(client.scopes)}  created={client.created_at}"
        )
    return 0


def _remove(args: argparse.Namespace) -> int:
    _registry().remove(args.client_id)
    print(f"removed {args.client_id}")
    return 0
