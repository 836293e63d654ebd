"""The worker against the real Kafka and OpenSearch, checked with an oracle."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from indexer.commands import Outcome
from indexer.events import ReindexCompleted, ReindexRequested, ReindexStarted
from tests.world import World, catalog

TIMEOUT_S = 120.0

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def changed(document: dict[str, Any], name: str) -> dict[str, Any]:
    metadata = {**document["metadata"], "version": document["metadata"]["version"] + 1}
    return {**document, "name": {"en": name}, "metadata": metadata}


async def reindex(world: World, tenant: str) -> Outcome:
    async with world.follow() as events:
        command = ReindexRequested(tenant=tenant, requested_by="tests")
        await world.command(command)
        return await events.outcome(command.command_id, TIMEOUT_S)


async def generations_settle(world: World, tenant: str) -> list[str]:
    """The tenant's indexes once their names stop changing (or after 30 s)."""
    found: list[str] = []
    for _ in range(60):
        answer = await world.opensearch.indices.get(index=f"{world.alias(tenant)}-*")
        if sorted(answer) == found:
            return found
        found = sorted(answer)
        await asyncio.sleep(0.5)
    return found


@pytest.mark.parametrize("name", ["decathlon", "amazontoys", "myntra"])
async def test_a_reindex_equals_the_catalog(world: World, name: str) -> None:
    documents = catalog(name)
    world.start_worker()
    await world.publish(name, documents)
    await world.wait_for(name, world.oracle.of(name), TIMEOUT_S)

    outcome = await reindex(world, name)

    assert isinstance(outcome, ReindexCompleted), outcome
    assert outcome.generation == f"{world.alias(name)}-000002"
    assert outcome.documents == len(documents)
    assert outcome.rejected == 0
    indexed = await world.documents(name)
    assert len(indexed) == len(documents)
    assert indexed == {document["id"]: document for document in documents}


async def test_changes_during_a_reindex_reach_the_new_generation(world: World) -> None:
    documents = catalog("myntra", 4000)
    # Small batches make the rewind slow enough to publish changes during it.
    world.start_worker(INDEXER_WORKER__BATCH_SIZE="20")
    await world.publish("myntra", documents)
    await world.wait_for("myntra", world.oracle.of("myntra"), TIMEOUT_S)
    updates = [changed(d, f"updated {d['id']}") for d in documents[:50]]
    deletes = [d["id"] for d in documents[50:100]]

    async with world.follow() as events:
        command = ReindexRequested(tenant="myntra", requested_by="tests")
        await world.command(command)
        started = [
            e for e in await events.next_events(30) if isinstance(e, ReindexStarted)
        ]
        await world.publish("myntra", updates)
        await world.delete("myntra", deletes)
        outcome = await events.outcome(command.command_id, TIMEOUT_S)

    assert started, "no ReindexStarted before the changes were published"
    assert isinstance(outcome, ReindexCompleted), outcome
    indexed = await world.wait_for("myntra", world.oracle.of("myntra"), 30)
    assert indexed == world.oracle.of("myntra")
    assert all(indexed[u["id"]]["name"] == u["name"] for u in updates)
    assert not set(deletes) & set(indexed)
    assert len(indexed) == len(documents) - len(deletes)


async def test_a_replayed_command_runs_once(world: World) -> None:
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", 500))
    command = ReindexRequested(tenant="decathlon", requested_by="tests")

    async with world.follow() as events:
        await world.command(command)
        first = await events.outcome(command.command_id, TIMEOUT_S)
        await world.command(command)
        late = await events.next_events(5)

    assert isinstance(first, ReindexCompleted)
    assert late == []
    served = [e for e in await world.events() if command.command_id in e["commandIds"]]
    kinds = [e["type"] for e in served]
    progress = kinds[1:-1]
    assert (kinds[0], kinds[-1]) == ("ReindexStarted", "ReindexCompleted")
    assert progress
    assert set(progress) == {"ReindexProgress"}
    assert served[-2]["processed"] == served[-2]["expected"] == 500


async def test_commands_during_a_build_are_coalesced_into_it(world: World) -> None:
    world.start_worker(INDEXER_WORKER__BATCH_SIZE="20")
    await world.publish("decathlon", catalog("decathlon", 3000))
    burst = [
        ReindexRequested(tenant="decathlon", requested_by="tests") for _ in range(5)
    ]

    async with world.follow() as events:
        for command in burst:
            await world.command(command)
        outcome = await events.outcome(burst[0].command_id, TIMEOUT_S)

    assert isinstance(outcome, ReindexCompleted)
    builds = [e for e in await world.events() if e["type"] == "ReindexStarted"]
    completed = [e for e in await world.events() if e["type"] == "ReindexCompleted"]
    served = set(itertools.chain.from_iterable(e["commandIds"] for e in completed))
    assert served == {c.command_id for c in burst}
    assert len(builds) == len(completed) <= 2
    assert outcome.documents == 3000


# A worker's bulk byte limit small enough for a too-large document to fit Kafka.
BATCH_BYTES = 200_000


def _bad_records() -> list[tuple[bytes | None, bytes | None, str]]:
    """Records of tenant amazontoys that no worker can index, and why."""

    def value(document: dict[str, Any]) -> bytes:
        return json.dumps(document).encode()

    deep = b"[" * 5000 + b"]" * 5000
    languages = {f"l{n:04d}": "word" for n in range(2500)}
    return [
        (b"amazontoys/x1", b"{not json", "invalid_json"),
        (b"amazontoys/x2", b"\xff\xfe", "invalid_utf8"),
        (b"amazontoys/x3", value({"name": {"en": "no id"}}), "missing_id"),
        (b"amazontoys/x4", value({"id": ""}), "missing_id"),
        (b"amazontoys/", value({"id": ""}), "missing_id"),
        (b"amazontoys/x5", value({"id": "x5", "tenant": "other"}), "tenant_mismatch"),
        (b"amazontoys/x6", value({"id": "x6", "published": "maybe"}), "mapping"),
        (b"amazontoys/x7", value({"id": "x7", "name": 42}), "mapping"),
        (
            b"amazontoys/x8",
            value({"id": "x8", "metadata": {"version": "3"}}),
            "invalid_version",
        ),
        (b"amazontoys/x9", value({"id": "x9", "pad": "y" * BATCH_BYTES}), "too_large"),
        (b"amazontoys/x10", value({"id": "x10", "name": languages}), "mapping"),
        (b"amazontoys/x11", b'{"id": "x11", "deep": ' + deep + b"}", "invalid_json"),
        (b"no-tenant-key", value({"id": "x12"}), "invalid_key"),
    ]


async def test_bad_records_are_dead_lettered_and_the_partition_moves(
    world: World,
) -> None:
    world.start_worker(INDEXER_WORKER__BATCH_BYTES=str(BATCH_BYTES))
    good = catalog("amazontoys", 200)
    others = catalog("decathlon", 300)
    bad = _bad_records()
    mixins = {f"attribute{n:05d}": n for n in range(5000)}
    await world.publish("decathlon", others)
    await world.publish("amazontoys", good[:100])
    for key, value, _ in bad:
        await world.send_raw(key, value)
    # The same keys again, valid: each partition moved past its bad records.
    await world.publish(
        "amazontoys", [_fixed(key) for key, *_ in bad if key and key.partition(b"/")[2]]
    )
    await world.publish("amazontoys", [{**good[0], "id": "many", "mixins": mixins}])
    await world.delete("amazontoys", ["never-seen"])
    await world.publish("amazontoys", good[100:])

    expected = world.oracle.of("amazontoys")
    indexed = await world.wait_for("amazontoys", expected, TIMEOUT_S)
    assert indexed == expected
    assert indexed["many"]["mixins"] == mixins
    assert await world.wait_for("decathlon", world.oracle.of("decathlon")) == {
        d["id"]: d for d in others
    }
    letters = await _dead_letters(world, len(bad))
    assert sorted(letter["code"] for letter in letters) == sorted(c for *_, c in bad)
    by_code = {letter["code"]: letter for letter in letters}
    assert by_code["invalid_utf8"]["value"] == "//4="  # the original bytes, base64
    assert by_code["mapping"]["reason"].startswith(
        ("mapper_parsing_exception", "illegal_argument_exception")
    )
    assert all(letter["topic"] == world.settings.topics.changelog for letter in letters)
    assert {letter["tenant"] for letter in letters} <= {"amazontoys", None}
    assert all(letter["reason"] for letter in letters)
    assert len({(letter["partition"], letter["offset"]) for letter in letters}) == len(
        bad
    )

    outcome = await reindex(world, "amazontoys")
    assert isinstance(outcome, ReindexCompleted)
    assert outcome.rejected == len(bad) - 1  # the key without a tenant is no one's
    assert outcome.documents == len(expected)
    assert await world.documents("amazontoys") == expected
    await asyncio.sleep(2)
    assert len(await _dead_letters(world, len(bad))) == len(bad)


def _fixed(key: bytes) -> dict[str, Any]:
    product_id = key.decode().partition("/")[2]
    return {"id": product_id, "name": {"en": "fixed"}, "metadata": {"version": 9}}


async def _dead_letters(world: World, expected: int) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = []
    for _ in range(60):
        records = await world.read_topic(world.settings.topics.deadletter)
        letters = [json.loads(value) for _, value in records if value]
        if len(letters) >= expected:
            break
        await asyncio.sleep(0.5)
    return letters


async def test_a_completed_reindex_keeps_the_live_and_the_previous_generation(
    world: World,
) -> None:
    world.start_worker()
    documents = catalog("decathlon", 300)
    await world.publish("decathlon", documents)
    await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    outcomes = [await reindex(world, "decathlon") for _ in range(3)]

    assert all(isinstance(o, ReindexCompleted) for o in outcomes), outcomes
    built = [o.generation for o in outcomes if isinstance(o, ReindexCompleted)]
    # The first generation is the one the live agent created; the old ones go
    # after each completion event.
    assert await generations_settle(world, "decathlon") == sorted(built[-2:])
    assert await world.documents("decathlon") == world.oracle.of("decathlon")


async def test_two_tenants_reindexed_at_once_stay_apart(world: World) -> None:
    world.start_worker()
    await world.publish("decathlon", catalog("decathlon", 2000))
    await world.publish("amazontoys", catalog("amazontoys", 2000))
    await world.wait_for("amazontoys", world.oracle.of("amazontoys"), TIMEOUT_S)

    outcomes = await asyncio.gather(
        reindex(world, "decathlon"), reindex(world, "amazontoys")
    )

    assert all(isinstance(o, ReindexCompleted) for o in outcomes), outcomes
    for tenant in ("decathlon", "amazontoys"):
        assert await world.documents(tenant) == world.oracle.of(tenant)


@pytest.mark.layout(partitions=12, spread=12)
async def test_two_workers_share_partitions_and_complete_a_reindex(
    world: World,
) -> None:
    world.start_worker()
    world.start_worker()
    await world.wait_for_assignment()
    documents = catalog("amazontoys", 5000)
    await world.publish("amazontoys", documents)
    await world.wait_for("amazontoys", world.oracle.of("amazontoys"), TIMEOUT_S)

    outcome = await reindex(world, "amazontoys")

    assert isinstance(outcome, ReindexCompleted), outcome
    assert await world.documents("amazontoys") == world.oracle.of("amazontoys")
    logs = [worker.log.read_text() for worker in world.workers]
    assert all("rewound" in text for text in logs), "one worker rewound nothing"


async def test_tombstones_delete_and_versions_order_writes(world: World) -> None:
    world.start_worker()
    documents = catalog("decathlon", 20)
    await world.publish("decathlon", documents)
    newer = changed(documents[0], "newer")
    await world.publish("decathlon", [newer, documents[0]])  # older one last
    await world.delete("decathlon", [documents[1]["id"], "never-seen"])
    raised = {**documents[2], "metadata": {"version": 5}}
    recreated = {**documents[2], "metadata": {"version": 1}}
    await world.publish("decathlon", [raised])
    await world.delete("decathlon", [documents[2]["id"]])
    await world.publish("decathlon", [recreated])

    indexed = await world.wait_for("decathlon", world.oracle.of("decathlon"), TIMEOUT_S)

    assert indexed == world.oracle.of("decathlon")
    assert indexed[documents[0]["id"]]["name"] == {"en": "newer"}
    assert documents[1]["id"] not in indexed
    assert indexed[documents[2]["id"]] == recreated
