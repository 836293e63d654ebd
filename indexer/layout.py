"""How the product changelog spreads tenants over its partitions.

With the ``tenant`` layout each tenant owns ``spread`` consecutive partitions
(its homes), starting at the murmur2 hash of its name, and a product goes to
one of them by the hash of its id. A reindex then reads only the tenant's
homes, so it costs in proportion to the tenant and to the few others that
share them, not to the whole topic. With the ``key`` layout a record goes
where Kafka's default partitioner puts its key, and a reindex reads every
partition.

Publishers compute the partition themselves, with the same hash as Kafka's
Java client (``Utils.toPositive(Utils.murmur2(bytes))``)::

    first = toPositive(murmur2(tenant)) % partitions
    partition = (first + toPositive(murmur2(product_id)) % spread) % partitions

where ``spread`` is capped at ``partitions``. Changing the partition count of
the changelog moves the homes: it needs a new topic and a replay into it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from aiokafka.partitioner import murmur2

Partitioning = Literal["tenant", "key"]


def _hash(data: bytes) -> int:
    return int(murmur2(data)) & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class Layout:
    partitioning: Partitioning = "tenant"
    spread: int = 2

    def homes(self, tenant: str, partitions: int) -> list[int]:
        """The partitions that may hold ``tenant``'s records, in order."""
        return list(_homes(self, tenant, partitions))

    def partition(self, key: bytes, partitions: int) -> int:
        """Where a record with this ``tenant/id`` key belongs."""
        tenant, separator, product_id = key.partition(b"/")
        if self.partitioning == "key" or not separator:
            return _hash(key) % partitions
        first = _hash(tenant) % partitions
        width = min(self.spread, partitions)
        return (first + _hash(product_id) % width) % partitions

    def partitioner(
        self, key: bytes | None, all_partitions: list[int], available: list[int]
    ) -> int:
        """The same, with the signature of aiokafka's ``partitioner`` option.

        A record with no key has no place; it goes to the first partition, where
        the worker dead-letters it.
        """
        if key is None:
            return all_partitions[0]
        return all_partitions[self.partition(key, len(all_partitions))]

    def belongs(self, tenant: str, partition: int, partitions: int) -> bool:
        return partition in _homes(self, tenant, partitions)


# Asked for every record a worker takes: the pure-Python hash costs microseconds.
@functools.lru_cache(maxsize=65536)
def _homes(layout: Layout, tenant: str, partitions: int) -> tuple[int, ...]:
    if layout.partitioning == "key":
        return tuple(range(partitions))
    first = _hash(tenant.encode()) % partitions
    width = min(layout.spread, partitions)
    return tuple(sorted((first + step) % partitions for step in range(width)))
