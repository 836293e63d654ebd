"""The whole flow on real catalogs, as a newcomer first sees it.

Stack up; API and worker started as their own processes; catalogs published
to the changelog; a client registered and a token taken from ``/oauth/token``;
one reindex request per tenant over HTTP; the events followed to the end; then
the proof: counts, searches, and a change and a delete seen in search.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import httpx
from opensearchpy import AsyncOpenSearch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from indexer import products
from indexer.auth import SEARCH_MANAGE, ClientRegistry
from indexer.commands import EventFollower
from indexer.demo.services import Service
from indexer.errors import ReindexError
from indexer.events import ReindexCompleted, ReindexFailed, ReindexStarted
from indexer.kafka import ensure_topics, project_topics
from indexer.search import open_client
from indexer.settings import Settings, cache_home
from indexer.stack import Stack

CLIENT_ID = "demo"
REINDEX_TIMEOUT_S = 600.0
FRESHNESS_TIMEOUT_S = 30.0


@dataclass
class Catalog:
    tenant: str
    path: Path

    @cached_property
    def documents(self) -> list[dict[str, Any]]:
        return list(products.read_documents(self.path))


def folder() -> Path:
    return cache_home() / "demo"


def services(settings: Settings) -> list[Service]:
    port = settings.api.port
    return [
        Service("api", ("api",), port, folder()),
        Service("worker", ("worker",), settings.worker.web_port, folder()),
    ]


class Demo:
    def __init__(self, settings: Settings, catalogs: Sequence[Catalog]) -> None:
        self.settings = settings
        self.catalogs = catalogs
        self.console = Console()
        self.started: list[Service] = []
        self.api = f"http://127.0.0.1:{settings.api.port}"

    def run(self) -> None:
        try:
            self._start()
            asyncio.run(self._flow())
        except KeyboardInterrupt:
            self.console.print("[yellow]Interrupted: stopping what this run started.")
            for service in self.started:
                service.stop()
            raise
        self._farewell()

    def _start(self) -> None:
        self.console.rule("[bold]Stack")
        started = Stack(self.settings).up()
        self.console.print(f"Kafka and OpenSearch running (started now: {started})")
        asyncio.run(ensure_topics(self.settings, project_topics(self.settings)))
        for service in services(self.settings):
            if service.start():
                self.started.append(service)
            service.wait_ready(timeout_s=90)
            self.console.print(f"{service.name} running, log: {service.log_file}")

    async def _flow(self) -> None:
        await self._load()
        tokens = await self._tokens()
        outcomes = await self._reindex(tokens)
        client = open_client(self.settings.opensearch)
        try:
            await self._prove(client, outcomes)
            await self._change(client)
        finally:
            await client.close()

    async def _load(self) -> None:
        self.console.rule("[bold]Publishing catalogs to the changelog")
        with Progress(console=self.console) as bar:
            for catalog in self.catalogs:
                documents = catalog.documents
                task = bar.add_task(catalog.tenant, total=len(documents))
                await products.publish(
                    self.settings,
                    catalog.tenant,
                    documents,
                    progress=partial(bar.advance, task),
                )

    async def _tokens(self) -> dict[str, str]:
        self.console.rule("[bold]Client credentials")
        secret = self._client_secret()
        tokens = {}
        async with httpx.AsyncClient(base_url=self.api) as http:
            for catalog in self.catalogs:
                answer = await http.post(
                    "/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": CLIENT_ID,
                        "client_secret": secret,
                        "scope": f"tenant={catalog.tenant} {SEARCH_MANAGE}",
                    },
                )
                answer.raise_for_status()
                token = answer.json()
                tokens[catalog.tenant] = token["access_token"]
                self.console.print(
                    f"token for {catalog.tenant}: scope {token['scope']!r}, "
                    f"expires in {token['expires_in']}s"
                )
        return tokens

    def _client_secret(self) -> str:
        """The demo client's secret, registered once and kept beside the logs."""
        saved = folder() / "client.json"
        tenants = sorted(catalog.tenant for catalog in self.catalogs)
        registry = ClientRegistry(self.settings.auth.clients_file)
        if saved.exists():
            data = json.loads(saved.read_text())
            client = registry.get(CLIENT_ID)
            if data.get("tenants") == tenants and client is not None:
                return str(data["secret"])
        if registry.get(CLIENT_ID) is not None:
            registry.remove(CLIENT_ID)
        secret = registry.add(CLIENT_ID, tenants, [SEARCH_MANAGE])
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"secret": secret, "tenants": tenants}))
        saved.chmod(0o600)
        self.console.print(f"registered client {CLIENT_ID!r} for {tenants}")
        return secret

    async def _reindex(self, tokens: dict[str, str]) -> dict[str, ReindexCompleted]:
        self.console.rule("[bold]Reindex over HTTP")
        async with EventFollower(self.settings) as events:
            async with httpx.AsyncClient(base_url=self.api) as http:
                for tenant, token in tokens.items():
                    answer = await http.post(
                        f"/indexing/{tenant}/reindex",
                        json={"mode": "FULL"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    self.console.print(
                        f"POST /indexing/{tenant}/reindex -> {answer.status_code}"
                    )
                    if answer.status_code != 204:
                        raise ReindexError(f"the API refused: {answer.text}")
            return await self._follow(events, set(tokens))

    async def _follow(
        self, events: EventFollower, tenants: set[str]
    ) -> dict[str, ReindexCompleted]:
        done: dict[str, ReindexCompleted] = {}
        deadline = time.monotonic() + REINDEX_TIMEOUT_S
        with self.console.status("following indexing.events ...") as status:
            while set(done) != tenants and time.monotonic() < deadline:
                for event in await events.next_events(1.0):
                    if isinstance(event, ReindexStarted):
                        self.console.print(
                            f"{event.tenant}: building {event.generation}"
                        )
                    elif isinstance(event, ReindexCompleted):
                        done[event.tenant] = event
                        self.console.print(
                            f"{event.tenant}: [green]completed[/] {event.documents} "
                            f"documents in {event.duration_s:.1f}s"
                        )
                    elif isinstance(event, ReindexFailed):
                        raise ReindexError(f"{event.tenant}: {event.reason}")
                status.update(f"waiting for {sorted(tenants - set(done))} ...")
        if set(done) != tenants:
            raise ReindexError(f"no completion for {sorted(tenants - set(done))}")
        return done

    async def _prove(
        self, client: AsyncOpenSearch, outcomes: dict[str, ReindexCompleted]
    ) -> None:
        self.console.rule("[bold]The result")
        table = Table("tenant", "catalog", "indexed", "alias -> generation", "equal")
        for catalog in self.catalogs:
            expected = len({d["id"] for d in catalog.documents})
            alias = outcomes[catalog.tenant].alias
            count = (await client.count(index=alias))["count"]
            table.add_row(
                catalog.tenant,
                str(expected),
                str(count),
                f"{alias} -> {outcomes[catalog.tenant].generation}",
                "[green]yes" if count == expected else "[red]NO",
            )
        self.console.print(table)
        for catalog in self.catalogs:
            await self._search(client, catalog)

    async def _search(self, client: AsyncOpenSearch, catalog: Catalog) -> None:
        sample = catalog.documents[len(catalog.documents) // 2]
        words = " ".join(str(sample["name"].get("en", "")).split()[:3])
        answer = await client.search(
            index=f"{self.settings.opensearch.index_prefix}-{catalog.tenant}",
            body={"query": {"match": {"name.en": words}}, "size": 3},
        )
        self.console.print(f"[bold]{catalog.tenant}[/]: search {words!r}")
        for hit in answer["hits"]["hits"]:
            name = hit["_source"]["name"].get("en", "")
            self.console.print(f"   {hit['_score']:6.2f}  {hit['_id']}  {name[:70]}")

    async def _change(self, client: AsyncOpenSearch) -> None:
        self.console.rule("[bold]A change and a delete, live")
        catalog = self.catalogs[0]
        documents = catalog.documents
        changed, deleted = documents[0], documents[1]
        marker = f"demo-{secrets.token_hex(3)}"
        update = {
            **changed,
            "name": {"en": f"{changed['name'].get('en', '')} {marker}"},
            "metadata": {**changed.get("metadata", {}), "version": 2},
        }
        alias = f"{self.settings.opensearch.index_prefix}-{catalog.tenant}"
        began = time.monotonic()
        await products.publish(self.settings, catalog.tenant, [update])
        await products.delete(self.settings, catalog.tenant, [deleted["id"]])
        while time.monotonic() - began < FRESHNESS_TIMEOUT_S:
            hits = await client.search(
                index=alias, body={"query": {"match": {"name.en": marker}}}
            )
            gone = not (await client.exists(index=alias, id=deleted["id"]))
            if hits["hits"]["total"]["value"] == 1 and gone:
                self.console.print(
                    f"{catalog.tenant}: {changed['id']} renamed and found by "
                    f"{marker!r}; {deleted['id']} deleted; both visible in search "
                    f"after {time.monotonic() - began:.1f}s"
                )
                return
            await asyncio.sleep(0.2)
        raise ReindexError("the change did not reach search in time")

    def _farewell(self) -> None:
        self.console.rule("[bold]Done")
        self.console.print(f"Logs of the API and worker: {folder()}")
        self.console.print(f"Kafka and OpenSearch: {self.settings.stack_home}")
        self.console.print(f"The API ({self.api}) and the worker keep running.")
        self.console.print(
            "Stop the API and the worker: make demo-stop; the stack: make stack-down"
        )
