"""Random short histories through one real worker, compared with the oracle.

Hypothesis draws a plan (upserts, deletes, duplicates, reindex commands over
two or three tenants) before anything runs; the test then publishes it, waits
for every command's outcome and compares each tenant with the oracle. Every
example gets fresh tenants, so one world and one worker serve them all.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from indexer.events import ReindexRequested
from tests.faults.support import TIMEOUT_S
from tests.world import World

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PRODUCTS = 5
VERSIONS = 4

Step = tuple[Any, ...]

tenant_numbers = st.integers(0, 2)
steps = st.one_of(
    st.tuples(
        st.just("upsert"),
        tenant_numbers,
        st.integers(0, PRODUCTS - 1),
        st.integers(0, VERSIONS),
    ),
    st.tuples(st.just("delete"), tenant_numbers, st.integers(0, PRODUCTS - 1)),
    st.just(("duplicate",)),
    st.tuples(st.just("reindex"), tenant_numbers),
)
plans = st.tuples(st.integers(2, 3), st.lists(steps, min_size=1, max_size=20))

# Tenants of every example differ, since they share one world.
EXAMPLES = itertools.count()


@dataclass
class Run:
    world: World
    tenants: list[str]
    touched: set[str] = field(default_factory=set)
    commands: list[ReindexRequested] = field(default_factory=list)
    last: Step | None = None

    async def step(self, number: int, step: Step) -> None:
        if step[0] == "duplicate":
            if self.last is not None:
                await self._apply(number, self.last)
            return
        await self._apply(number, step)
        self.last = step if step[0] != "reindex" else self.last

    async def _apply(self, number: int, step: Step) -> None:
        kind, tenant = step[0], self.tenants[step[1] % len(self.tenants)]
        if kind == "reindex":
            command = ReindexRequested(tenant=tenant, requested_by="hypothesis")
            await self.world.command(command)
            self.commands.append(command)
            return
        self.touched.add(tenant)
        if kind == "delete":
            await self.world.delete(tenant, [f"p{step[2]}"])
            return
        document = {
            "id": f"p{step[2]}",
            "tenant": tenant,
            "name": {"en": f"step {number} version {step[3]}"},
            "metadata": {"version": step[3]},
        }
        await self.world.publish(tenant, [document])


@pytest.fixture
def property_world(world: World) -> World:
    world.start_worker()
    return world


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    # No shrinking: each example drives a real worker, and a failing plan of
    # twenty steps is short enough to read.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans)
async def test_random_histories_equal_the_oracle(
    property_world: World, plan: tuple[int, list[Step]]
) -> None:
    count, history = plan
    example = next(EXAMPLES)
    tenants = [f"hyp{example}{'abc'[n]}" for n in range(count)]
    run = Run(property_world, tenants)

    for number, step in enumerate(history):
        await run.step(number, step)
    ends = await _ends(property_world, {c.command_id for c in run.commands})

    assert {end["type"] for end in ends} <= {"ReindexCompleted"}, (history, ends)
    for tenant in sorted(run.touched):
        expected = property_world.oracle.of(tenant)
        found = await property_world.wait_for(tenant, expected, TIMEOUT_S)
        assert found == expected, history


async def _ends(world: World, command_ids: set[str]) -> list[dict[str, Any]]:
    """The events that ended the commands' builds, once each command is named."""
    deadline = time.monotonic() + TIMEOUT_S
    ends: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        ends = [
            event
            for event in await world.events()
            if event["type"] in ("ReindexCompleted", "ReindexFailed")
            and command_ids & set(event["commandIds"])
        ]
        named = set().union(*(set(end["commandIds"]) for end in ends))
        if command_ids <= named:
            return ends
        await asyncio.sleep(0.5)
    pytest.fail(f"commands without an outcome: {command_ids}, ends {ends}")
