"""Registered clients, the signing key and auth settings, on disk and by CLI."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.auth import ClientRegistry, RegistryError, load_or_create
from indexer.auth.clients import Client
from indexer.cli import main
from indexer.settings import AuthSettings

ISSUER = "http://127.0.0.1:8180/realms/shop"


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """``main`` configures the root logger; put pytest's handlers back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def registry(tmp_path: Path) -> ClientRegistry:
    return ClientRegistry(tmp_path / "auth" / "clients.json")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_added_client_authenticates_with_its_secret_only(
    registry: ClientRegistry,
) -> None:
    secret = registry.add("billing", ["acme"], ["indexing.search_manage"])

    client = registry.authenticate("billing", secret)

    assert isinstance(client, Client)
    assert (client.tenants, client.scopes) == (("acme",), ("indexing.search_manage",))
    assert registry.authenticate("billing", secret + "x") is None
    assert registry.authenticate("nobody", secret) is None


def test_file_is_private_and_holds_no_secret(registry: ClientRegistry) -> None:
    secret = registry.add("billing", ["acme", "beta"], ["indexing.search_view"])

    text = registry.path.read_text()
    assert secret not in text
    assert _mode(registry.path) == 0o600
    [entry] = json.loads(text)["clients"]
    assert entry["secret"]["algorithm"] == "scrypt"
    assert len(entry["secret"]["salt"]) >= 16


def test_same_secret_hashes_differently_per_client(registry: ClientRegistry) -> None:
    registry.add("one", ["acme"], ["indexing.search_view"])
    registry.add("two", ["acme"], ["indexing.search_view"])

    salts = {client.secret.salt for client in registry.clients()}
    assert len(salts) == 2


def test_removed_client_is_gone(registry: ClientRegistry) -> None:
    registry.add("billing", ["acme"], ["indexing.search_view"])
    registry.add("search", ["acme"], ["indexing.search_view"])

    registry.remove("billing")

    assert [client.client_id for client in registry.clients()] == ["search"]
    with pytest.raises(RegistryError):
        registry.remove("billing")


@pytest.mark.parametrize(
    ("client_id", "tenants", "scopes", "message"),
    [
        ("billing", [], ["indexing.search_view"], "--tenant"),
        ("billing", ["Acme"], ["indexing.search_view"], "not tenants"),
        ("billing", ["acme"], [], "--scope"),
        ("billing", ["acme"], ["admin"], "unknown scopes"),
        ("bad id", ["acme"], ["indexing.search_view"], "client id"),
        ("", ["acme"], ["indexing.search_view"], "client id"),
    ],
)
def test_bad_registrations_are_refused(
    registry: ClientRegistry,
    client_id: str,
    tenants: list[str],
    scopes: list[str],
    message: str,
) -> None:
    with pytest.raises(RegistryError, match=message):
        registry.add(client_id, tenants, scopes)

    assert not registry.path.exists()


def test_duplicate_client_is_refused(registry: ClientRegistry) -> None:
    registry.add("billing", ["acme"], ["indexing.search_view"])

    with pytest.raises(RegistryError, match="exists"):
        registry.add("billing", ["beta"], ["indexing.search_view"])


def test_cli_add_list_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients_file = tmp_path / "clients.json"
    monkeypatch.setenv("INDEXER_AUTH__CLIENTS_FILE", str(clients_file))

    add = "clients add billing --tenant acme --tenant beta"
    added = main([*add.split(), "--scope", "indexing.search_manage"])
    shown = capsys.readouterr().out
    secret = next(
        line.split()[-1] for line in shown.splitlines() if "client_secret" in line
    )
    listed = main(["clients", "list"])
    listing = capsys.readouterr().out
    removed = main(["clients", "remove", "billing"])
    capsys.readouterr()
    missing = main(["clients", "remove", "billing"])

    assert (added, listed, removed, missing) == (0, 0, 0, 2)
    assert ClientRegistry(clients_file).clients() == []
    assert "billing" in listing
    assert "acme,beta" in listing
    assert secret not in listing
    assert len(secret) >= 32


def test_cli_refuses_unknown_scopes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDEXER_AUTH__CLIENTS_FILE", str(tmp_path / "clients.json"))

    with pytest.raises(SystemExit):
        main(["clients", "add", "billing", "--tenant", "acme", "--scope", "admin"])


def test_signing_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing-key.pem"

    first = load_or_create(path)
    second = load_or_create(path)

    assert _mode(path) == 0o600
    assert first.kid == second.kid
    assert first.algorithm == "ES256"


def test_external_settings_must_be_complete(auth_settings: AuthSettings) -> None:
    base = auth_settings.model_dump()

    with pytest.raises(ValueError, match="external_audience"):
        AuthSettings.model_validate({**base, "external_issuer": ISSUER})
    with pytest.raises(ValueError, match="one of"):
        AuthSettings.model_validate(
            {**base, "external_issuer": ISSUER, "external_audience": "indexing"}
        )
    with pytest.raises(ValueError, match="RS"):
        AuthSettings.model_validate({**base, "external_algorithms": ["HS256"]})
