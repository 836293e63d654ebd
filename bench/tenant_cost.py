"""(3) Cost per tenant: a small tenant's reindex, alone or among many others.

Two worlds side by side, each with its own worker: in one the changelog holds
only the small tenant, in the other it also holds the products of other
tenants. Both consumer groups are committed at the end of the changelog
before the workers start (as if they had indexed everything live), so only
the rewinds are measured. Reindexes alternate between the worlds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.catalog import copies
from bench.measure import spread
from bench.plan import Plan
from bench.world import World

log = logging.getLogger(__name__)

TENANT = "smallshop"


async def _world(
    label: str, root: Path, plan: Plan, others: int, partitions: int
) -> World:
    world = await World.create(label, root, partitions, plan.spread)
    await world.publish(TENANT, copies(plan.solo, "s"))
    share = others // plan.other_tenants if others else 0
    for number in range(plan.other_tenants if others else 0):
        await world.publish(f"other{number}", copies(share, f"o{number}x"))
    await world.skip_live()
    world.start_worker()
    await world.wait_assigned()
    return world


async def run(plan: Plan, root: Path) -> dict[str, Any]:
    layouts = [await _layout(plan, root, count) for count in plan.cost_partitions]
    return {
        "tenant_documents": plan.solo,
        "other_documents": (plan.others // plan.other_tenants) * plan.other_tenants,
        "spread": plan.spread,
        "layouts": layouts,
    }


async def _layout(plan: Plan, root: Path, partitions: int) -> dict[str, Any]:
    """Both worlds on a changelog of ``partitions``; reindexes alternate."""
    alone = await _world(f"c{partitions}a", root, plan, 0, partitions)
    crowded = await _world(f"c{partitions}c", root, plan, plan.others, partitions)
    try:
        runs: dict[str, list[dict[str, Any]]] = {"alone": [], "crowded": []}
        for _ in range(plan.repeats):
            for name, world in (("alone", alone), ("crowded", crowded)):
                result = await world.reindex(TENANT, plan.solo)
                log.info(
                    "%d partitions, %s: reindex of %d in %.2fs",
                    partitions,
                    name,
                    plan.solo,
                    result.elapsed_s,
                )
                runs[name].append(result.as_dict())
        seconds = {name: [r["elapsed_s"] for r in rs] for name, rs in runs.items()}
        ratios = [
            c / a for a, c in zip(seconds["alone"], seconds["crowded"], strict=True)
        ]
        return {
            "partitions": partitions,
            "read": await _homes_records(crowded),
            "runs": runs,
            "alone_s": spread(seconds["alone"]),
            "crowded_s": spread(seconds["crowded"]),
            "ratio": spread(ratios),
        }
    finally:
        await alone.close()
        await crowded.close()


async def _homes_records(world: World) -> int:
    """Records on the small tenant's home partitions: what its rewinds read."""
    topics = world.settings.topics
    homes = topics.layout.homes(TENANT, topics.changelog_partitions)
    ends = await world.end_offsets(topics.changelog)
    return sum(ends[p] for p in homes)
