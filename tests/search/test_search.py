"""The index writer against the real OpenSearch node."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import TransportError

from indexer.search import Backoff, BulkWriter, Indexes, Operation, Outcome
from indexer.settings import Settings
from tests.conftest import IndexFactory
from tests.faults.proxies import ThrottlingProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def doc(product_id: str, version: int, **fields: Any) -> bytes:
    return json.dumps(
        {"id": product_id, "metadata": {"version": version}, **fields}
    ).encode()


@pytest.fixture
def writer(opensearch: AsyncOpenSearch) -> BulkWriter:
    return BulkWriter(opensearch, 1_000_000, lambda: Backoff(0.05, 0.2))


async def fresh_generation(
    new_index: IndexFactory, opensearch: AsyncOpenSearch, settings: Settings
) -> tuple[Indexes, str]:
    prefix = await new_index(create=False)
    scoped = settings.opensearch.model_copy(update={"index_prefix": prefix})
    indexes = Indexes(opensearch, scoped)
    return indexes, await indexes.ensure_live("acme")


async def test_versions_order_writes_and_conflicts_are_success(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    _, index = await fresh_generation(new_index, opensearch, settings)

    results = await writer.write(
        [
            Operation(index, "a", doc("a", 2, code="new"), 2),
            Operation(index, "a", doc("a", 1, code="old"), 1),
            Operation(index, "a", doc("a", 2, code="same"), 2),
            Operation(index, "gone", None, 0),
        ]
    )

    assert [r.outcome for r in results] == [
        Outcome.CREATED,
        Outcome.STALE,
        Outcome.UPDATED,
        Outcome.NOT_FOUND,
    ]
    found = await opensearch.get(index=index, id="a")
    assert found["_source"]["code"] == "same"


async def test_a_product_recreated_with_a_lower_version_after_its_delete(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    _, index = await fresh_generation(new_index, opensearch, settings)

    results = await writer.write(
        [
            Operation(index, "a", doc("a", 9), 9),
            Operation(index, "a", None, 0),
            Operation(index, "a", doc("a", 1, code="reborn"), 1),
        ]
    )

    assert [r.outcome for r in results] == [
        Outcome.CREATED,
        Outcome.DELETED,
        Outcome.CREATED,
    ]
    found = await opensearch.get(index=index, id="a")
    assert found["_source"]["code"] == "reborn"


async def test_a_replayed_upsert_and_delete_leave_the_product_deleted(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    """A redelivery after a crash: the upsert meets the remembered delete (409)
    and is rechecked, but the delete after it in the batch must still win."""
    _, index = await fresh_generation(new_index, opensearch, settings)
    upsert = Operation(index, "a", doc("a", 3, code="stale"), 3)
    delete = Operation(index, "a", None, 0)
    await writer.write([upsert, delete])

    replayed = await writer.write(
        [upsert, delete, Operation(index, "b", doc("b", 1), 1)]
    )

    assert replayed[1].outcome in (Outcome.DELETED, Outcome.NOT_FOUND)
    assert replayed[2].outcome is Outcome.CREATED
    await opensearch.indices.refresh(index=index)
    assert not await opensearch.exists(index=index, id="a")
    assert await opensearch.exists(index=index, id="b")


async def test_mapping_errors_are_rejections_with_the_reason(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    indexes, index = await fresh_generation(new_index, opensearch, settings)
    deep: dict[str, Any] = {}
    level = deep
    for _ in range(30):
        level["x"] = {}
        level = level["x"]

    results = await writer.write(
        [
            Operation(index, "a", doc("a", 1, published="maybe"), 1),
            Operation(index, "b", doc("b", 1, mixins=deep), 1),
            Operation(index, "c", doc("c", 1), 1),
        ]
    )

    assert results[0].outcome is Outcome.REJECTED
    assert results[0].reason.startswith("mapper_parsing_exception")
    assert results[1].outcome is Outcome.CREATED  # mixins are one flat field
    assert results[2].outcome is Outcome.CREATED
    await indexes.refresh(index)
    assert await indexes.count(index) == 2


async def test_thousands_of_attribute_keys_do_not_explode_the_mapping(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    indexes, index = await fresh_generation(new_index, opensearch, settings)
    attributes = {f"attribute{n}": str(n) for n in range(5000)}
    unknown = {f"field{n}": n for n in range(3000)}

    [result] = await writer.write(
        [Operation(index, "a", doc("a", 1, mixins=attributes, **unknown), 1)]
    )

    assert result.outcome is Outcome.CREATED
    await indexes.refresh(index)
    hits = await opensearch.search(
        index=index, body={"query": {"term": {"mixins.attribute4711": "4711"}}}
    )
    assert hits["hits"]["total"]["value"] == 1


async def test_localized_names_are_analysed_per_language(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    indexes, index = await fresh_generation(new_index, opensearch, settings)
    name = {"en": "Running shoes", "de": "Laufschuhe für Kinder", "xx": "zorp"}
    await writer.write([Operation(index, "a", doc("a", 1, name=name), 1)])
    await indexes.refresh(index)

    async def hits(field: str, text: str) -> int:
        answer = await opensearch.search(
            index=index, body={"query": {"match": {field: text}}}
        )
        return int(answer["hits"]["total"]["value"])

    assert await hits("name.en", "run shoe") == 1  # english stemming
    assert await hits("name.de", "kind") == 1  # german stemming
    assert await hits("name.xx", "zorp") == 1
    mapping = await opensearch.indices.get_mapping(index=index)
    fields = mapping[index]["mappings"]["properties"]["name"]["properties"]
    assert fields["en"]["analyzer"] == "english"
    assert fields["de"]["analyzer"] == "german"


async def test_generations_swap_atomically_and_old_ones_are_pruned(
    new_index: IndexFactory, opensearch: AsyncOpenSearch, settings: Settings
) -> None:
    indexes, first = await fresh_generation(new_index, opensearch, settings)
    second = await indexes.create("acme", building=True)
    third = await indexes.create("acme", building=True)

    previous = await indexes.publish("acme", third)
    dropped = await indexes.prune("acme", {third, first})

    assert previous == first
    assert await indexes.live("acme") == third
    assert dropped == [second]
    assert await indexes.generations("acme") == [first, third]
    assert (first, second, third) == tuple(
        indexes.generation_name("acme", n) for n in (1, 2, 3)
    )


async def test_a_bootstrap_never_adopts_a_generation_being_built(
    new_index: IndexFactory, opensearch: AsyncOpenSearch, settings: Settings
) -> None:
    prefix = await new_index(create=False)
    scoped = settings.opensearch.model_copy(update={"index_prefix": prefix})
    indexes = Indexes(opensearch, scoped)
    building = await indexes.create("acme", building=True)

    live = await indexes.ensure_live("acme")

    assert live != building
    assert await indexes.live("acme") == live


class StaleReads(Indexes):
    """Reads the alias as missing the first ``times``: a racing worker's view."""

    def __init__(self, indexes: Indexes, times: int) -> None:
        super().__init__(indexes._client, indexes._settings)
        self.times = times

    async def live(self, tenant: str) -> str | None:
        if self.times > 0:
            self.times -= 1
            return None
        return await super().live(tenant)


async def _aliased(opensearch: AsyncOpenSearch, alias: str) -> list[str]:
    return sorted(await opensearch.indices.get_alias(name=alias))


async def test_a_bootstrap_racing_a_swap_uses_the_swapped_generation(
    new_index: IndexFactory, opensearch: AsyncOpenSearch, settings: Settings
) -> None:
    prefix = await new_index(create=False)
    scoped = settings.opensearch.model_copy(update={"index_prefix": prefix})
    indexes = Indexes(opensearch, scoped)
    built = await indexes.create("acme", building=True)
    await indexes.publish("acme", built)

    # This worker has not seen the swap: it bootstraps a generation of its own.
    live = await StaleReads(indexes, times=1).ensure_live("acme")

    assert live == built
    assert await indexes.generations("acme") == [built]
    assert await _aliased(opensearch, indexes.alias("acme")) == [built]


async def test_a_swap_racing_a_bootstrap_fails_and_succeeds_when_tried_again(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    prefix = await new_index(create=False)
    scoped = settings.opensearch.model_copy(update={"index_prefix": prefix})
    indexes = Indexes(opensearch, scoped)
    built = await indexes.create("acme", building=True)
    bootstrapped = await indexes.ensure_live("acme")
    alias = indexes.alias("acme")

    # The swap read the alias before the bootstrap made it.
    with pytest.raises(TransportError, match="more than one write index"):
        await StaleReads(indexes, times=1).publish("acme", built)

    # The alias still names one generation, and it takes writes.
    assert await _aliased(opensearch, alias) == [bootstrapped]
    results = await writer.write([Operation(alias, "a", doc("a", 1), 1)])
    assert [r.outcome for r in results] == [Outcome.CREATED]
    assert await indexes.publish("acme", built) == bootstrapped
    assert await _aliased(opensearch, alias) == [built]


async def _exists(opensearch: AsyncOpenSearch, index: str, doc_id: str) -> bool:
    await opensearch.indices.refresh(index=index)
    return bool(await opensearch.exists(index=index, id=doc_id))


async def test_a_stale_upsert_before_a_delete_never_brings_the_document_back(
    new_index: IndexFactory,
    opensearch: AsyncOpenSearch,
    settings: Settings,
    writer: BulkWriter,
) -> None:
    """A redelivered old upsert, then the delete that followed it, in one batch."""
    _, index = await fresh_generation(new_index, opensearch, settings)
    await writer.write([Operation(index, "a", doc("a", 3), 3)])

    await writer.write(
        [Operation(index, "a", doc("a", 2), 2), Operation(index, "a", None, 0)]
    )

    assert not await _exists(opensearch, index, "a")


async def test_an_item_retried_after_429_keeps_its_place_before_a_delete(
    new_index: IndexFactory, opensearch: AsyncOpenSearch, settings: Settings
) -> None:
    _, index = await fresh_generation(new_index, opensearch, settings)
    proxy = ThrottlingProxy(settings.opensearch.url)
    client = AsyncOpenSearch(hosts=[proxy.url])
    try:
        proxy.set("items")  # the first item of each bulk gets a 429
        writer = BulkWriter(client, 1_000_000, lambda: Backoff(0.05, 0.2))
        results = await writer.write(
            [Operation(index, "a", doc("a", 1), 1), Operation(index, "a", None, 0)]
        )
    finally:
        await client.close()
        proxy.close()

    assert proxy.stats.rejected_items > 0
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.DELETED]
    assert not await _exists(opensearch, index, "a")
