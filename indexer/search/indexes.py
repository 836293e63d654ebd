"""A tenant's index generations and the alias that names the live one.

Generation ``products-acme-000007`` is one full build of tenant ``acme``; the
alias ``products-acme`` points at exactly one generation. A tenant never
contains ``-``, so ``products-acme-*`` matches only that tenant's generations.

Every generation gets the alias as its write index. OpenSearch refuses a
second write index for an alias, so a bootstrap racing a swap loses one of the
two steps, which is then tried again, instead of leaving an alias over two
indexes that takes no writes.
"""

from __future__ import annotations

import logging
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from indexer.errors import SearchUnavailable
from indexer.events import is_tenant
from indexer.search.mapping import MAPPING, index_settings, live_settings
from indexer.settings import OpenSearchSettings

log = logging.getLogger(__name__)

DIGITS = 6
CREATE_ATTEMPTS = 10
WRITE_INDEX = {"is_write_index": True}


class Indexes:
    def __init__(self, client: AsyncOpenSearch, settings: OpenSearchSettings):
        self._client = client
        self._settings = settings

    def alias(self, tenant: str) -> str:
        return f"{self._settings.index_prefix}-{tenant}"

    def generation_name(self, tenant: str, number: int) -> str:
        return f"{self.alias(tenant)}-{number:0{DIGITS}d}"

    async def generations(self, tenant: str) -> list[str]:
        """The tenant's generation indexes, oldest first."""
        pattern = f"{self.alias(tenant)}-*"
        found = await self._client.indices.get(
            index=pattern, params={"allow_no_indices": "true"}
        )
        prefix = f"{self.alias(tenant)}-"
        names = [
            name
            for name in found
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        ]
        return sorted(names)

    async def live(self, tenant: str) -> str | None:
        """The generation the alias points at, or None."""
        try:
            found = await self._client.indices.get_alias(name=self.alias(tenant))
        except NotFoundError:
            return None
        names = sorted(found)
        return names[-1] if names else None

    async def lives(self) -> dict[str, str]:
        """Every tenant's live generation, by tenant."""
        prefix = f"{self._settings.index_prefix}-"
        found = await self._client.indices.get_alias(
            index=f"{prefix}*", params={"allow_no_indices": "true"}
        )
        lives = {}
        for generation, entry in sorted(found.items()):
            for alias in entry.get("aliases", {}):
                tenant = alias.removeprefix(prefix)
                if alias.startswith(prefix) and is_tenant(tenant):
                    lives[tenant] = generation
        return lives

    async def create(self, tenant: str, building: bool) -> str:
        """Create a new generation; a live one gets the alias in the same step.

        A name taken meanwhile is never adopted: the next number is tried, and
        a bootstrap that lost the race to another one uses the winner's alias.
        """
        for _attempt in range(CREATE_ATTEMPTS):
            existing = await self.generations(tenant)
            number = int(existing[-1].rsplit("-", 1)[1]) + 1 if existing else 1
            name = self.generation_name(tenant, number)
            if await self._try_create(tenant, name, building):
                return name
            if not building and (live := await self.live(tenant)) is not None:
                return live
        raise SearchUnavailable(f"could not create a generation of {tenant}")

    async def _try_create(self, tenant: str, name: str, building: bool) -> bool:
        body: dict[str, Any] = {
            "settings": index_settings(self._settings, building),
            "mappings": MAPPING,
        }
        if not building:
            body["aliases"] = {self.alias(tenant): WRITE_INDEX}
        try:
            await self._client.indices.create(index=name, body=body)
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            log.info(
                "generation %s exists already",
                name,
                extra={"tenant": tenant, "index": name},
            )
            return False
        except TransportError as exc:
            if not _second_write_index(exc):
                raise
            log.info(
                "generation %s not created: %s went live meanwhile",
                name,
                self.alias(tenant),
                extra={"tenant": tenant, "index": name},
            )
            return False
        return True

    async def ensure_live(self, tenant: str) -> str:
        """The live generation, bootstrapping the first one for a new tenant."""
        live = await self.live(tenant)
        if live is not None:
            return live
        name = await self.create(tenant, building=False)
        log.info(
            "tenant %s had no index: created %s",
            tenant,
            name,
            extra={"tenant": tenant, "index": name},
        )
        return await self.live(tenant) or name

    async def publish(self, tenant: str, generation: str) -> str | None:
        """Make a built generation live: settings, then one atomic alias swap.

        Returns the generation that was live before, if any.
        """
        await self._client.indices.put_settings(
            index=generation, body={"index": live_settings(self._settings)}
        )
        previous = await self.live(tenant)
        actions: list[dict[str, Any]] = [
            {"add": {"index": generation, "alias": self.alias(tenant), **WRITE_INDEX}}
        ]
        if previous is not None and previous != generation:
            actions.insert(
                0, {"remove": {"index": previous, "alias": self.alias(tenant)}}
            )
        await self._client.indices.update_aliases(body={"actions": actions})
        return previous

    async def prune(self, tenant: str, keep: set[str]) -> list[str]:
        """Delete the tenant's generations not in ``keep``; return those dropped."""
        dropped = [name for name in await self.generations(tenant) if name not in keep]
        for name in dropped:
            await self.drop(name)
        return dropped

    async def drop(self, generation: str) -> None:
        try:
            await self._client.indices.delete(index=generation)
        except NotFoundError:
            log.info(
                "generation %s was already gone",
                generation,
                extra={"index": generation},
            )

    async def refresh(self, generation: str) -> None:
        await self._client.indices.refresh(index=generation)

    async def count(self, generation: str) -> int:
        answer = await self._client.count(index=generation)
        return int(answer["count"])


def _second_write_index(exc: TransportError) -> bool:
    """OpenSearch's refusal to give an alias a second write index."""
    return exc.error == "illegal_state_exception" and "write index" in str(exc)
