"""The worker's pages on faust's web server: liveness, readiness, metrics.

faust serves them from the start of the process, before the first rebalance;
only GET is answered (faust's views answer 405 to other methods).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TP

from indexer.health import Probe
from indexer.metrics import CONTENT_TYPE, exposition
from indexer.worker.runtime import Runtime

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


def add_pages(app: Any, runtime: Runtime, probe: Probe, timeout_s: float) -> None:
    changelog = runtime.settings.topics.changelog

    @app.page("/health/live")
    async def live(web: Any, request: Any) -> Any:
        return web.json({"status": "live"}, headers=NO_STORE)

    @app.page("/health/ready")
    async def ready(web: Any, request: Any) -> Any:
        readiness = await probe.readiness()
        status = 200 if readiness.ready else 503
        return web.json(readiness.to_json(), status=status, headers=NO_STORE)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        await _measure_lag(app, runtime, changelog, timeout_s)
        body = exposition(runtime.metrics.registry)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE, **NO_STORE})


async def _measure_lag(
    app: Any, runtime: Runtime, topic: str, timeout_s: float
) -> None:
    """Log end minus the next offset the index agent takes, per owned partition.

    When Kafka does not answer in time the gauges keep their last values.
    """
    owned = [tp for tp in app.consumer.assignment() if tp.topic == topic]
    try:
        async with asyncio.timeout(timeout_s):
            lags = await _lags(app, runtime, owned)
    except (KafkaError, TimeoutError) as exc:
        log.warning(
            "consumer lag of %s not measured: %r", topic, exc, extra={"topic": topic}
        )
        return
    runtime.metrics.lag(topic, lags)


async def _lags(app: Any, runtime: Runtime, owned: list[TP]) -> dict[int, int]:
    ends = await app.consumer.highwaters(*owned) if owned else {}
    lags: dict[int, int] = {}
    for tp in owned:
        taken = runtime.positions.taken.get(tp.partition)
        if taken is None:
            taken = await app.consumer.position(tp)
        end = ends.get(tp)
        if end is not None and taken is not None:
            lags[tp.partition] = max(0, int(end) - int(taken))
    return lags
