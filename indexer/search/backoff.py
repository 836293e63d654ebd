"""Capped exponential backoff with jitter, one instance per retried call."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    def __init__(self, initial_s: float, max_s: float) -> None:
        self._initial = initial_s
        self._max = max_s
        self._next = initial_s
        self.attempts = 0

    def peek(self) -> float:
        return self._next

    async def wait(self) -> None:
        delay = self._next * random.uniform(0.8, 1.2)  # noqa: S311 - not crypto
        self.attempts += 1
        self._next = min(self._max, self._next * 2)
        await asyncio.sleep(delay)
