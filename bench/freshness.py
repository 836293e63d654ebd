"""(2) Freshness: from a product change produced to it being searchable.

Open loop: change ``i`` is due at ``start + i / rate`` whatever happened to
the earlier ones, and is timed from the moment it was handed to the producer.
Each change updates one product of a pool with ``metadata.version`` set to a
number never used before; every ``POLL_S`` a poller asks the tenant's alias
for the versions not seen yet (naming them, so answers stay small and the
poller loads the engine little) and notes when each first shows up.
Latencies are therefore upper bounds, by at most one poll interval plus one
search. A pool far larger than rate x latency keeps every version visible
before the same product changes again; a change overwritten before it was
seen is counted as superseded, never as fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.catalog import copies
from bench.measure import (
    CpuWatch,
    Profile,
    bucket_quantiles,
    percentiles,
    stack_pids,
    summarise,
)
from bench.plan import Plan
from bench.world import World

log = logging.getLogger(__name__)

TENANT = "freshshop"
POLL_S = 0.05
DRAIN_S = 30.0
POINTS = (50, 95, 99)
# The worker's histogram of the time from a change's timestamp to its live write.
DELAY = "indexer_change_delay_seconds"
MAX_TERMS = 10_000


@dataclass
class Changes:
    """What was sent and what was seen, by version."""

    sent_at: dict[int, float] = field(default_factory=dict)
    outstanding: dict[int, float] = field(default_factory=dict)
    latest_of: dict[int, int] = field(default_factory=dict)  # pool slot -> version
    seen: dict[int, float] = field(default_factory=dict)
    superseded: int = 0
    late_sends: int = 0
    polls: list[float] = field(default_factory=list)
    finished: bool = False
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, version: int, slot: int, now: float) -> None:
        previous = self.latest_of.get(slot)
        if previous is not None and self.outstanding.pop(previous, None) is not None:
            self.superseded += 1
        self.latest_of[slot] = version
        self.sent_at[version] = now
        self.outstanding[version] = now

    def see(self, version: int, now: float) -> None:
        if self.outstanding.pop(version, None) is not None:
            self.seen[version] = now - self.sent_at[version]
        if self.finished and not self.outstanding:
            self.drained.set()

    def finish(self) -> None:
        self.finished = True
        if not self.outstanding:
            self.drained.set()


async def prepare(plan: Plan, root: Path) -> tuple[World, list[dict[str, Any]]]:
    world = await World.create("f", root, plan.partitions)
    world.start_worker()
    await world.wait_assigned()
    pool = copies(plan.fresh_pool, "f")
    await world.publish(TENANT, pool)
    await world.wait_count(TENANT, len(pool), 600)
    return world, pool


async def refresh_interval(world: World) -> str:
    answer = await world.search.indices.get_settings(
        index=world.alias(TENANT), name="index.refresh_interval", include_defaults=True
    )
    for found in answer.values():
        for section in ("settings", "defaults"):
            value = found.get(section, {}).get("index", {}).get("refresh_interval")
            if value is not None:
                return str(value)
    return "unknown"


async def measure(
    world: World,
    pool: list[dict[str, Any]],
    rate: int,
    duration_s: float,
    first_version: int,
) -> dict[str, Any]:
    changes = Changes()
    producer = AIOKafkaProducer(
        bootstrap_servers=world.settings.kafka.bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        partitioner=world.settings.topics.layout.partitioner,
    )
    await producer.start()
    pids = {"bench": os.getpid(), **stack_pids()}
    pids.update({f"worker{n}": w.pid for n, w in enumerate(world.workers)})
    cpu = CpuWatch(pids).start()
    delays = await world.workers[0].histogram(DELAY)
    refreshes = await _refreshes(world)
    stop = asyncio.Event()
    poller = asyncio.create_task(_poll(world, changes, stop, first_version))
    try:
        began = time.perf_counter()
        await _produce(
            world=world,
            producer=producer,
            pool=pool,
            changes=changes,
            rate=rate,
            duration_s=duration_s,
            first_version=first_version,
        )
        sent_s = time.perf_counter() - began
        await _drain(changes)
    finally:
        stop.set()
        await poller
        await producer.stop()
    cpu.stop()
    written = bucket_quantiles(delays, await world.workers[0].histogram(DELAY), POINTS)
    count, took_ms = (
        after - before
        for before, after in zip(refreshes, await _refreshes(world), strict=True)
    )
    return {
        **_result(changes, rate, duration_s, sent_s, cpu.result),
        "written_le": written,
        "refreshes": count,
        "refresh_mean_ms": took_ms / count if count else 0.0,
    }


async def _refreshes(world: World) -> tuple[int, int]:
    """The live index's scheduled refreshes so far, and their milliseconds."""
    answer = await world.search.indices.stats(
        index=world.alias(TENANT), metric="refresh"
    )
    refresh = answer["_all"]["primaries"]["refresh"]
    return int(refresh["external_total"]), int(refresh["external_total_time_in_millis"])


async def _produce(
    *,
    world: World,
    producer: AIOKafkaProducer,
    pool: list[dict[str, Any]],
    changes: Changes,
    rate: int,
    duration_s: float,
    first_version: int,
) -> None:
    topic = world.settings.topics.changelog
    count = int(rate * duration_s)
    futures = []
    start = time.perf_counter()
    for number in range(count):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            changes.late_sends += 1
        slot = number % len(pool)
        version = first_version + number
        key, value = _change(pool[slot], version)
        changes.send(version, slot, time.perf_counter())
        futures.append(await producer.send(topic, value=value, key=key))
    await asyncio.gather(*futures)


def _change(document: dict[str, Any], version: int) -> tuple[bytes, bytes]:
    changed = {
        **document,
        "name": {"en": f"change {version}"},
        "metadata": {**document["metadata"], "version": version},
    }
    key = f"{TENANT}/{document['id']}".encode()
    return key, json.dumps(changed, separators=(",", ":")).encode()


async def _drain(changes: Changes) -> None:
    changes.finish()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(changes.drained.wait(), DRAIN_S)


async def _poll(
    world: World, changes: Changes, stop: asyncio.Event, first_version: int
) -> None:
    """Ask only for the versions not seen yet, so each answer stays small."""
    alias = world.alias(TENANT)
    while not stop.is_set():
        wanted = sorted(changes.outstanding)[:MAX_TERMS]
        if not wanted:
            await asyncio.sleep(POLL_S)
            continue
        began = time.perf_counter()
        answer = await world.search.search(
            index=alias,
            body={
                "query": {"terms": {"metadata.version": wanted}},
                "size": len(wanted),
                "_source": False,
                "docvalue_fields": ["metadata.version"],
                "track_total_hits": False,
            },
        )
        now = time.perf_counter()
        for hit in answer["hits"]["hits"]:
            changes.see(int(hit["fields"]["metadata.version"][0]), now)
        changes.polls.append(now - began)
        await asyncio.sleep(max(0.0, POLL_S - (time.perf_counter() - began)))


def _result(
    changes: Changes, rate: int, duration_s: float, sent_s: float, cpu: dict[str, Any]
) -> dict[str, Any]:
    latencies = sorted(changes.seen.values())
    polls = sorted(changes.polls)
    return {
        "rate": rate,
        "duration_s": duration_s,
        "sent": len(changes.sent_at),
        "achieved_rate": len(changes.sent_at) / sent_s,
        "late_sends": changes.late_sends,
        "seen": len(latencies),
        "superseded": changes.superseded,
        "unseen": len(changes.outstanding),
        **percentiles(latencies, POINTS),
        "max": latencies[-1] if latencies else 0.0,
        "poll_mean_ms": 1000 * sum(polls) / len(polls) if polls else 0.0,
        "poll_p99_ms": 1000 * percentiles(polls, (99,))["p99"] if polls else 0.0,
        "series": _series(changes),
        "cpu": cpu,
    }


def _series(changes: Changes, keep: int = 3000) -> list[list[float]]:
    """(seconds since the first send, latency) of a sample, for the plot."""
    if not changes.seen:
        return []
    first = min(changes.sent_at.values())
    items = sorted(changes.seen.items())
    step = max(1, len(items) // keep)
    return [[changes.sent_at[v] - first, latency] for v, latency in items[::step]]


async def run(plan: Plan, root: Path) -> dict[str, Any]:
    world, pool = await prepare(plan, root)
    try:
        interval = await refresh_interval(world)
        version = 1_000
        rate = max(plan.rates)
        warmup = await measure(world, pool, rate, plan.fresh_warmup_s, version)
        version += int(rate * plan.fresh_warmup_s) + 1
        log.info("freshness warm-up at %d/s: p99 %.3fs", rate, warmup["p99"])
        runs = []
        for _ in range(plan.fresh_repeats):
            for rate in plan.rates:
                result = await measure(
                    world, pool, rate, plan.fresh_duration_s, version
                )
                version += int(rate * plan.fresh_duration_s) + 1
                log.info("freshness at %d/s: p99 %.3fs", rate, result["p99"])
                runs.append(result)
        profile = await _profiled(plan, root, world, pool, version)
        return {
            "refresh_interval": interval,
            "poll_s": POLL_S,
            "runs": runs,
            "warmup": {key: warmup[key] for key in ("rate", "duration_s", "p99")},
            "profile": profile,
        }
    finally:
        await world.close()


async def _profiled(
    plan: Plan, root: Path, world: World, pool: list[dict[str, Any]], version: int
) -> dict[str, Any] | None:
    if not plan.profile:
        return None
    rate = max(plan.rates)
    raw = root / "profile-freshness.txt"
    profile = Profile(world.workers[0].pid, raw)
    result = await measure(world, pool, rate, plan.profile_duration_s, version)
    packed = profile.stop()
    return {"rate": rate, "p99": result["p99"], "raw": str(packed), **summarise(raw)}
