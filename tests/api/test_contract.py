"""The running service against its own OpenAPI document, with schemathesis.

``indexer api`` serves the app on a free loopback port, writing to the real
Kafka. Every response schemathesis provokes must match the document: status
codes, content types, bodies, auth enforcement, 405s for undocumented methods.
It runs in its own process: the app's Kafka clients draw from the global
``random`` module in the background, which Hypothesis forbids while it
generates.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from indexer.api.openapi import document
from indexer.auth import ClientRegistry
from indexer.settings import Settings

pytestmark = pytest.mark.integration

ApiCase = schemathesis.Case[Any]
STARTUP_TIMEOUT_S = 10.0
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class LiveApi:
    url: str
    token: str


@pytest.fixture
def live_api(kafka_settings: Settings, tmp_path: Path) -> Iterator[LiveApi]:
    """``indexer api`` as an operator runs it, on a free loopback port."""
    secret = ClientRegistry(kafka_settings.auth.clients_file).add(
        "contract", ["acme"], ["indexing.search_manage"]
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "api.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "indexer", "api", "--port", str(port)],
            env={**os.environ, **_environment(kafka_settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_started(url, server)
        yield LiveApi(url=url, token=_token(url, secret))
    finally:
        server.terminate()
        server.wait(timeout=STARTUP_TIMEOUT_S)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(settings: Settings) -> dict[str, str]:
    return {
        "INDEXER_AUTH__CLIENTS_FILE": str(settings.auth.clients_file),
        "INDEXER_AUTH__SIGNING_KEY_FILE": str(settings.auth.signing_key_file),
        "INDEXER_TOPICS__COMMANDS": settings.topics.commands,
        "INDEXER_TOPICS__EVENTS": settings.topics.events,
        "INDEXER_API__PUBLISH_TIMEOUT_S": str(settings.api.publish_timeout_s),
    }


def _wait_started(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"indexer api exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("indexer api did not start in time")


def _token(url: str, secret: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": "contract",
        "client_secret": secret,
    }
    response = httpx.post(f"{url}/oauth/token", data=form, timeout=10)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _schema(parameters: dict[str, str]) -> schemathesis.BaseSchema:
    """The package's document, which the drift test proves is the one served.

    It is loaded at import, as ``parametrize`` needs; requests still go to the
    live server through ``base_url``.
    """
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "parameters": parameters,
        }
    )
    return schemathesis.openapi.from_dict(document(), config=config)


BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
any_tenant = _schema({})
# Every request names the token's tenant, so the body decides the answer.
own_tenant = _schema({"path.tenant": "acme"}).include(path_regex="^/indexing/")


def _call(case: ApiCase, live_api: LiveApi) -> None:
    headers = {"Authorization": f"Bearer {live_api.token}"}
    case.call_and_validate(base_url=live_api.url, headers=headers)


@any_tenant.parametrize()
@BOUNDED
def test_any_tenant_conforms(case: ApiCase, live_api: LiveApi) -> None:
    _call(case, live_api)


@own_tenant.parametrize()
@BOUNDED
def test_own_tenant_conforms(case: ApiCase, live_api: LiveApi) -> None:
    _call(case, live_api)
