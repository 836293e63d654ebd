"""The changelog layout: where publishers put records and what a reindex reads."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from indexer.layout import Layout
from indexer.settings import TopicSettings

# Partitions computed by Kafka's Java client 4.1.1 with the formula in the
# layout's documentation (Utils.toPositive(Utils.murmur2(...))), spread 2.
JAVA_PARTITIONS = [
    (12, "acme", "sku-1", 1),
    (12, "smallshop", "s000042", 1),
    (12, "myntra", "10017413", 3),
    (12, "decathlon", "8584051", 6),
    (7, "acme", "sku-1", 5),
    (7, "smallshop", "s000042", 6),
    (7, "myntra", "10017413", 4),
    (7, "decathlon", "8584051", 2),
]


@pytest.mark.parametrize(
    ("partitions", "tenant", "product_id", "java"), JAVA_PARTITIONS
)
def test_partitions_match_what_a_java_publisher_computes(
    partitions: int, tenant: str, product_id: str, java: int
) -> None:
    key = f"{tenant}/{product_id}".encode()
    assert Layout("tenant", 2).partition(key, partitions) == java


def test_a_tenant_owns_spread_consecutive_partitions() -> None:
    layout = Layout("tenant", 3)
    runs = [{(first + step) % 12 for step in range(3)} for first in range(12)]
    for tenant in ("acme", "smallshop", "myntra", "decathlon", "amazontoys"):
        homes = layout.homes(tenant, 12)
        assert len(homes) == 3
        assert set(homes) in runs


def test_every_product_lands_on_one_of_its_tenants_homes() -> None:
    layout = Layout("tenant", 2)
    placed = {layout.partition(f"acme/sku-{n}".encode(), 12) for n in range(500)}
    assert placed == set(layout.homes("acme", 12))


def test_the_spread_is_capped_by_the_partition_count() -> None:
    assert Layout("tenant", 8).homes("acme", 3) == [0, 1, 2]


def test_the_key_layout_is_kafkas_default_and_reads_every_partition() -> None:
    layout = Layout("key", 2)
    default = DefaultPartitioner()
    for n in range(200):
        key = f"acme/sku-{n}".encode()
        assert layout.partition(key, 7) == default(key, list(range(7)), [])
    assert layout.homes("acme", 7) == list(range(7))


def test_the_partitioner_follows_the_layout_and_keeps_keyless_records() -> None:
    layout = TopicSettings().layout
    key = b"myntra/10017413"
    assert layout.partitioner(key, list(range(12)), []) == layout.partition(key, 12)
    assert layout.partitioner(None, list(range(12)), []) == 0
