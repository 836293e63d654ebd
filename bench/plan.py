"""How big each benchmark is: the full run and the short smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    # (1) full reindex and (4) memory
    big: int = 100_000
    small: int = 25_000
    repeats: int = 3
    grid_documents: int = 25_000
    chunks: tuple[int, ...] = (500, 1000, 2000)
    concurrencies: tuple[int, ...] = (2, 4, 8)
    # (2) freshness
    rates: tuple[int, ...] = (200, 2000)
    fresh_duration_s: float = 60.0
    fresh_pool: int = 20_000
    fresh_repeats: int = 2
    # Unmeasured changes at the top rate first: a fresh JVM indexes several
    # times slower until its hot paths are compiled.
    fresh_warmup_s: float = 30.0
    profile_duration_s: float = 20.0
    # (3) cost per tenant
    solo: int = 1000
    others: int = 300_000
    other_tenants: int = 30
    # Changelog partition counts the cost is measured on, side by side.
    cost_partitions: tuple[int, ...] = (12, 48)
    # (5) scale-out
    scale_documents: int = 50_000
    scale_repeats: int = 2
    scale_partitions: int = 12
    # The changelog of (1), (2) and the A/B runs: the indexer's default.
    partitions: int = 48
    # Partitions per tenant; (5) spreads its one tenant over all of them.
    spread: int = 2
    profile: bool = True


FULL = Plan("full")

SMOKE = Plan(
    "smoke",
    big=10_000,
    small=2_500,
    repeats=1,
    grid_documents=5_000,
    chunks=(1000,),
    concurrencies=(4,),
    rates=(200, 2000),
    fresh_duration_s=8.0,
    fresh_pool=5_000,
    fresh_repeats=1,
    fresh_warmup_s=3.0,
    profile_duration_s=5.0,
    solo=500,
    others=20_000,
    cost_partitions=(12,),
    other_tenants=4,
    scale_documents=6_000,
    scale_repeats=1,
)

PLANS = {plan.name: plan for plan in (FULL, SMOKE)}
