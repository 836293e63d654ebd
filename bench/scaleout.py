"""(5) Scale-out: one worker, then two, on one multi-partition changelog.

On a 2-core machine that also runs Kafka, OpenSearch and this benchmark, a
second worker adds coordination (a rebalance, two processes rewinding) more
than speed; the figures show that it stays correct and what it costs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from bench.catalog import copies
from bench.measure import spread
from bench.plan import Plan
from bench.world import World

log = logging.getLogger(__name__)

TENANT = "scaleshop"


async def run(plan: Plan, root: Path) -> dict[str, Any]:
    world = await World.create("s", root, plan.scale_partitions, plan.scale_partitions)
    size = plan.scale_documents
    try:
        world.start_worker()
        await world.wait_assigned()
        await world.publish(TENANT, copies(size, "x"))
        await world.wait_count(TENANT, size, 600)
        results: dict[str, Any] = {
            "documents": size,
            "partitions": plan.scale_partitions,
        }
        for workers in (1, 2):
            if workers == 2:
                world.start_worker()
                await world.wait_assigned()
            runs = []
            for _ in range(plan.scale_repeats):
                run = await world.reindex(TENANT, size)
                count = await _alias_count(world)
                log.info("%d workers: %.0f docs/s", workers, run.rate)
                runs.append({**run.as_dict(), "alias_count": count})
            owned = [
                sorted(_owned(w.text(), world.settings.topics.changelog))
                for w in world.workers
            ]
            results[f"workers_{workers}"] = {
                "runs": runs,
                "docs_per_s": spread([r["docs_per_s"] for r in runs]),
                "owned": owned,
                "correct": all(r["alias_count"] == size for r in runs),
            }
        return results
    finally:
        await world.close()


async def _alias_count(world: World) -> int:
    alias = world.alias(TENANT)
    await world.search.indices.refresh(index=alias)
    return int((await world.search.count(index=alias))["count"])


def _owned(log_text: str, topic: str) -> set[int]:
    lines = [line for line in log_text.splitlines() if "assigned partitions" in line]
    if not lines:
        return set()
    pairs = re.findall(r"\('([^']+)', (\d+)\)", lines[-1])
    return {int(partition) for name, partition in pairs if name == topic}
