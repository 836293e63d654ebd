"""Helpers of the API tests: a running app, crafted tokens, a topic read back."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from starlette.applications import Starlette

from indexer.api import CommandPublisher, create_app
from indexer.auth import ClientRegistry, SigningKey, load_or_create
from indexer.events import ReindexRequested
from indexer.settings import AuthSettings, Settings

BASE_URL = "http://indexer.test"
READ_TIMEOUT_S = 10.0


class RecordingPublisher(CommandPublisher):
    """Keeps commands in memory instead of writing them to Kafka."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.commands: list[ReindexRequested] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, command: ReindexRequested) -> None:
        self.commands.append(command)


class FailingPublisher(RecordingPublisher):
    """Fails like a bug would, with text that must never reach a client."""

    async def publish(self, command: ReindexRequested) -> None:
        raise RuntimeError("internal detail /srv/secret/path must stay inside")


@dataclass
class Api:
    app: Starlette
    client: httpx.AsyncClient
    settings: Settings
    registry: ClientRegistry
    signing_key: SigningKey | None
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> SigningKey:
        if self.signing_key is None:
            raise AssertionError("an app of an external issuer has no signing key")
        return self.signing_key

    def register(
        self,
        client_id: str,
        tenants: tuple[str, ...] = ("acme",),
        scopes: tuple[str, ...] = ("indexing.search_manage",),
    ) -> str:
        secret = self.registry.add(client_id, tenants, scopes)
        self.secrets[client_id] = secret
        return secret

    async def token(self, client_id: str, scope: str | None = None) -> str:
        """A token from the token endpoint for a registered client."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": self.secrets[client_id],
        }
        if scope is not None:
            form["scope"] = scope
        response = await self.client.post("/oauth/token", data=form)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def mint(
        self, key: Any = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token signed with the app's key unless ``key``; None leaves a claim out."""
        now = int(time.time())
        auth = self.settings.auth
        payload: dict[str, Any] = {
            "iss": auth.issuer,
            "sub": "billing",
            "aud": auth.audience,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "client_id": "billing",
            "tenant": "acme",
            "scope": "indexing.search_manage",
        }
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"kid": self.key.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(
            payload,
            key if key is not None else self.key.private_key,
            algorithm=header.pop("alg", "ES256"),
            headers=header,
        )

    async def reindex(
        self, tenant: str = "acme", token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.post(
            f"/indexing/{tenant}/reindex", headers=headers, **kwargs
        )

    async def create_job(
        self, token: str, tenant: str = "acme", entity_type: str = "PRODUCT"
    ) -> httpx.Response:
        return await self.client.post(
            f"/indexing/{tenant}/reindex-jobs",
            headers={"Authorization": f"Bearer {token}"},
            json={"entityType": entity_type},
        )

    async def jobs(
        self, token: str, tenant: str = "acme", **params: int | str
    ) -> httpx.Response:
        return await self.client.get(
            f"/indexing/{tenant}/reindex-jobs",
            headers={"Authorization": f"Bearer {token}"},
            params=params,
        )

    async def job(self, token: str, path: str) -> httpx.Response:
        """The job at ``path``, as a ``Location`` header names it."""
        return await self.client.get(path, headers={"Authorization": f"Bearer {token}"})


def with_auth(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with auth settings changed, validated as at startup."""
    auth = AuthSettings.model_validate({**settings.auth.model_dump(), **changes})
    return settings.model_copy(update={"auth": auth})


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, publisher: CommandPublisher | None = None
) -> AsyncIterator[Api]:
    """The app with its lifespan entered, behind an in-process HTTP client."""
    app = create_app(settings, publisher=publisher)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield Api(
            app=app,
            client=client,
            settings=settings,
            registry=ClientRegistry(settings.auth.clients_file),
            signing_key=None
            if settings.auth.external
            else load_or_create(settings.auth.signing_key_file),
        )


async def read_topic(
    settings: Settings, topic: str
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on partition 0 of ``topic``, read from the beginning."""
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        start = (await consumer.beginning_offsets([partition]))[partition]
        end = (await consumer.end_offsets([partition]))[partition]
        consumer.seek(partition, start)
        return await _read_until(consumer, partition, end)
    finally:
        await consumer.stop()


async def _read_until(
    consumer: AIOKafkaConsumer, partition: TopicPartition, end: int
) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + READ_TIMEOUT_S
    while await consumer.position(partition) < end:
        if time.monotonic() > deadline:
            raise AssertionError(f"read {len(records)} of {end} records in time")
        batches = await consumer.getmany(partition, timeout_ms=500)
        records.extend(batches.get(partition, []))
    return records


def commands_in(records: list[ConsumerRecord[bytes, bytes]]) -> list[ReindexRequested]:
    return [ReindexRequested.model_validate_json(record.value) for record in records]
