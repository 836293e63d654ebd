"""Before/after of a code change: two committed versions of the worker, one run.

One world and one tenant; the worker is restarted from the snapshot of each
version in turn (A B A B ...) and reindexes the tenant, so both see the same
data and, as far as possible, the same machine. Besides the wall-clock rate
it records the worker's own CPU seconds per reindex, which the load of other
processes on the machine disturbs far less than the wall clock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bench.catalog import copies
from bench.measure import CpuWatch, spread, stack_pids
from bench.plan import Plan
from bench.world import World, snapshot

log = logging.getLogger(__name__)

TENANT = "abshop"


async def run(plan: Plan, root: Path, refs: tuple[str, str]) -> dict[str, Any]:
    codes = {
        ref: snapshot(ref, root / f"code-{number}") for number, ref in enumerate(refs)
    }
    world = await World.create("ab", root, plan.partitions)
    size = plan.big
    try:
        worker = world.start_worker(code=codes[refs[1]])
        await world.wait_assigned()
        await world.publish(TENANT, copies(size, "ab"))
        await world.wait_count(TENANT, size, 900)
        runs: dict[str, list[dict[str, Any]]] = {ref: [] for ref in refs}
        for _ in range(plan.repeats):
            for ref in refs:
                worker.stop()
                worker = world.start_worker(code=codes[ref])
                await world.wait_assigned()
                pids = {"worker": worker.pid, "bench": os.getpid(), **stack_pids()}
                cpu = CpuWatch(pids).start()
                result = await world.reindex(TENANT, size)
                cpu.stop()
                log.info("%s: %.0f docs/s", ref, result.rate)
                runs[ref].append({**result.as_dict(), "cpu": cpu.result})
        return {"documents": size, "refs": list(refs), **_summary(runs)}
    finally:
        await world.close()


def _summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "docs_per_s": {
            ref: spread([r["docs_per_s"] for r in rs]) for ref, rs in runs.items()
        },
        "worker_cpu_s": {
            ref: spread([r["cpu"]["cpu_s"]["worker"] for r in rs])
            for ref, rs in runs.items()
        },
        "opensearch_cpu_s": {
            ref: spread([r["cpu"]["cpu_s"].get("opensearch", 0.0) for r in rs])
            for ref, rs in runs.items()
        },
    }
