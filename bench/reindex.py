"""(1) FULL reindex throughput against the bulk-load ceiling; (4) its memory.

One world per tenant size. The worker first indexes the tenant live; then
reindexes and ceiling loads alternate (A B A B ...), so a change of the
machine's load touches both sides of the ratio alike. Peak RSS of the worker
is taken over each reindex window.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from bench import ceiling
from bench.catalog import copies, write_jsonl
from bench.measure import CpuWatch, MemoryWatch, Profile, spread, stack_pids, summarise
from bench.plan import Plan
from bench.world import WorkerProcess, World

log = logging.getLogger(__name__)

TENANT = "bigshop"
LIVE_TIMEOUT_S = 900.0


async def tune_ceiling(plan: Plan, root: Path, world: World) -> dict[str, Any]:
    """Every loader of the grid once on a smaller file; the fastest wins."""
    path = write_jsonl(copies(plan.grid_documents, "g"), root / "grid.jsonl")
    loads = []
    for number, loader in enumerate(
        ceiling.grid(list(plan.chunks), list(plan.concurrencies))
    ):
        index = f"{world.name}-ceiling-grid-{number}"
        load = await ceiling.load(world.settings.opensearch, loader, path, index)
        log.info("ceiling %s: %.0f docs/s", loader.label, load.rate)
        loads.append(load)
    path.unlink()
    best = max(loads, key=lambda load: load.rate)
    return {"loads": [load.as_dict() for load in loads], "best": best.loader}


async def prepare(world: World, documents: list[dict[str, Any]]) -> WorkerProcess:
    """A worker that has indexed the tenant live, as before any reindex."""
    worker = world.start_worker()
    await world.wait_assigned()
    began = time.monotonic()
    await world.publish(TENANT, documents)
    published = time.monotonic() - began
    await world.wait_count(TENANT, len(documents), LIVE_TIMEOUT_S)
    live = time.monotonic() - began
    log.info(
        "%d documents published in %.1fs, indexed live in %.1fs",
        len(documents),
        published,
        live,
    )
    return worker


async def reindex_once(
    world: World, worker: WorkerProcess, size: int
) -> dict[str, Any]:
    pids = {"worker": worker.pid, "bench": os.getpid(), **stack_pids()}
    memory = MemoryWatch(worker.pid).start()
    cpu = CpuWatch(pids).start()
    run = await world.reindex(TENANT, size)
    cpu.stop()
    memory.stop()
    log.info("reindex of %d: %.0f docs/s", size, run.rate)
    return {
        **run.as_dict(),
        "memory": memory.as_dict(),
        "rss_timeline": _thin(memory.samples),
        "cpu": cpu.result,
    }


async def throughput(
    plan: Plan, root: Path, size: int, best: ceiling.Loader | None
) -> dict[str, Any]:
    """Reindexes of a ``size`` tenant, alternating with ceiling loads of it."""
    world = await World.create(f"r{size // 1000}k", root, plan.partitions)
    try:
        documents = copies(size)
        path = write_jsonl(documents, root / f"tenant-{size}.jsonl")
        worker = await prepare(world, documents)
        del documents
        tuned = None
        loader = best
        if loader is None:
            tuned = await tune_ceiling(plan, root, world)
            loader = tuned["best"]
        runs, loads = [], []
        for number in range(plan.repeats):
            runs.append(await reindex_once(world, worker, size))
            index = f"{world.name}-ceiling-{number}"
            load = await ceiling.load(world.settings.opensearch, loader, path, index)
            log.info("ceiling %s: %.0f docs/s", loader.label, load.rate)
            loads.append(load.as_dict())
        profile = await _profiled(plan, root, world, worker, size)
        path.unlink()
        return _summary(
            size=size,
            runs=runs,
            loads=loads,
            loader=loader,
            tuned=tuned,
            profile=profile,
        )
    finally:
        await world.close()


async def _profiled(
    plan: Plan, root: Path, world: World, worker: WorkerProcess, size: int
) -> dict[str, Any] | None:
    """One more reindex under py-spy; its throughput is kept apart."""
    if not plan.profile:
        return None
    raw = root / f"profile-reindex-{size}.txt"
    profile = Profile(worker.pid, raw)
    run = await world.reindex(TENANT, size)
    packed = profile.stop()
    return {"docs_per_s": run.rate, "raw": str(packed), **summarise(raw)}


def _summary(
    *,
    size: int,
    runs: list[dict[str, Any]],
    loads: list[dict[str, Any]],
    loader: ceiling.Loader,
    tuned: dict[str, Any] | None,
    profile: dict[str, Any] | None,
) -> dict[str, Any]:
    ratios = [
        r["docs_per_s"] / c["docs_per_s"] for r, c in zip(runs, loads, strict=True)
    ]
    return {
        "documents": size,
        "runs": runs,
        "ceiling": loads,
        "ceiling_loader": loader.label,
        "grid": tuned["loads"] if tuned else None,
        "reindex_docs_per_s": spread([r["docs_per_s"] for r in runs]),
        "ceiling_docs_per_s": spread([c["docs_per_s"] for c in loads]),
        "ratio": spread(ratios),
        "peak_rss_mib": spread([r["memory"]["peak_rss_mib"] for r in runs]),
        "start_rss_mib": spread([r["memory"]["start_rss_mib"] for r in runs]),
        "profile": profile,
    }


def _thin(samples: list[tuple[float, int]], keep: int = 400) -> list[list[float]]:
    step = max(1, len(samples) // keep)
    return [[t, rss / 2**20] for t, rss in samples[::step]]
