"""The running service against its own OpenAPI document, with schemathesis.

uvicorn serves the app on a free loopback port, writing to the real Kafka.
Every response schemathesis provokes must match the document: status codes,
content types, bodies, auth enforcement, 405s for undocumented methods.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from indexer.api import create_app
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
def live_api(kafka_settings: Settings) -> Iterator[LiveApi]:
    """``indexer api`` as an operator runs it, on a port bound here first."""
    secret = ClientRegistry(kafka_settings.auth.clients_file).add(
        "contract", ["acme"], ["indexing.search_manage"]
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(create_app(kafka_settings), log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        _wait_started(server)
        yield LiveApi(url=url, token=_token(url, secret))
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        listener.close()


def _wait_started(server: uvicorn.Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start in time")
        time.sleep(0.05)


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
own_tenant = _schema({"path.tenant": "acme"}).include(path="/indexing/{tenant}/reindex")


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
