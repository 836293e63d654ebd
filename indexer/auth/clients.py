"""The registered clients: who may ask for tokens, for which tenants and scopes.

They live in one JSON file, secrets only as scrypt hashes. The file is
rewritten atomically with mode 0600 under an advisory lock, and re-read by a
running API whenever it changes, so ``indexer clients add`` needs no restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.auth.errors import AuthFileError, RegistryError
from indexer.auth.files import write_private
from indexer.auth.hashing import (
    SecretHash,
    decoy,
    hash_secret,
    new_secret,
    verify_secret,
)
from indexer.auth.scopes import KNOWN_SCOPES
from indexer.events import is_tenant

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FORMAT_VERSION = 1

Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class Client:
    client_id: str
    tenants: tuple[str, ...]
    scopes: tuple[str, ...]
    secret: SecretHash
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "tenants": list(self.tenants),
            "scopes": list(self.scopes),
            "secret": self.secret.to_dict(),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Client:
        return cls(
            client_id=str(data["client_id"]),
            tenants=tuple(str(tenant) for tenant in data["tenants"]),
            scopes=tuple(str(scope) for scope in data["scopes"]),
            secret=SecretHash.from_dict(data["secret"]),
            created_at=str(data["created_at"]),
        )


class ClientRegistry:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: Stamp | None = None
        self._clients: dict[str, Client] = {}

    @property
    def path(self) -> Path:
        return self._path

    def clients(self) -> list[Client]:
        return sorted(self._current().values(), key=lambda client: client.client_id)

    def get(self, client_id: str) -> Client | None:
        return self._current().get(client_id)

    def authenticate(self, client_id: str, secret: str) -> Client | None:
        """The client, if the secret is its own; slow on purpose (scrypt)."""
        client = self.get(client_id)
        stored = client.secret if client is not None else decoy()
        matches = verify_secret(secret, stored)
        return client if matches and client is not None else None

    def add(self, client_id: str, tenants: Iterable[str], scopes: Iterable[str]) -> str:
        """Register a client and return its new secret, which is stored hashed."""
        client_tenants = tuple(dict.fromkeys(tenants))
        client_scopes = tuple(dict.fromkeys(scopes))
        _check_registration(client_id, client_tenants, client_scopes)

        secret = new_secret()
        client = Client(
            client_id=client_id,
            tenants=client_tenants,
            scopes=client_scopes,
            secret=hash_secret(secret),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._locked() as clients:
            if client_id in clients:
                raise RegistryError(f"client {client_id!r} exists; remove it first")
            clients[client_id] = client

        log.info("registered client %s for tenants %s", client_id, client_tenants)
        return secret

    def remove(self, client_id: str) -> None:
        with self._locked() as clients:
            if clients.pop(client_id, None) is None:
                raise RegistryError(f"no client {client_id!r} in {self._path}")
        log.info("removed client %s", client_id)

    def _current(self) -> dict[str, Client]:
        stamp = self._read_stamp()
        if stamp != self._stamp:
            self._clients = self._read() if stamp is not None else {}
            self._stamp = stamp
        return self._clients

    def _read_stamp(self) -> Stamp | None:
        try:
            status = self._path.stat()
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size

    def _read(self) -> dict[str, Client]:
        try:
            document = json.loads(self._path.read_text("utf-8"))
            clients = [Client.from_dict(entry) for entry in document["clients"]]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuthFileError(
                f"cannot read clients from {self._path}: {exc}"
            ) from exc
        return {client.client_id: client for client in clients}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Client]]:
        """The clients, to change in place; written back when the block succeeds."""
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self._path.with_name(f"{self._path.name}.lock")
        descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            clients = dict(self._read())
            yield clients
            self._write(clients)
        finally:
            os.close(descriptor)

    def _write(self, clients: dict[str, Client]) -> None:
        document = {
            "version": FORMAT_VERSION,
            "clients": [clients[key].to_dict() for key in sorted(clients)],
        }
        data = json.dumps(document, indent=2).encode() + b"\n"
        try:
            write_private(self._path, data)
        except OSError as exc:
            raise AuthFileError(f"cannot write {self._path}: {exc}") from exc


def _check_registration(
    client_id: str, tenants: tuple[str, ...], scopes: tuple[str, ...]
) -> None:
    if not CLIENT_ID.fullmatch(client_id):
        raise RegistryError(
            "a client id is 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit"
        )
    if not tenants:
        raise RegistryError("a client needs at least one --tenant")
    bad_tenants = [tenant for tenant in tenants if not is_tenant(tenant)]
    if bad_tenants:
        raise RegistryError(
            f"not tenants: {bad_tenants}; a tenant is 3 to 16 of [a-z0-9], "
            "starting with a letter"
        )
    if not scopes:
        raise RegistryError("a client needs at least one --scope")
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise RegistryError(f"unknown scopes {unknown}; known: {sorted(KNOWN_SCOPES)}")
