"""The changelog's layout, recorded by the first worker and checked by the rest.

Records sit on partitions chosen by the layout and the partition count, so a
worker that indexed a changelog with one layout must never rebuild it with
another: the rewinds would read the wrong partitions and a swap would publish
an index missing most products. The layout is recorded on the build state
topic the first time; a worker that finds another one refuses to start.
"""

from __future__ import annotations

import asyncio
import logging

from indexer.errors import ConfigurationError
from indexer.kafka import Producer, partition_count
from indexer.settings import Settings
from indexer.worker.registry import Registry
from indexer.worker.state import ChangelogLayout

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 30.0


async def current(settings: Settings) -> ChangelogLayout:
    """The layout these settings and the topic as it is now give."""
    topics = settings.topics
    return ChangelogLayout(
        topic=topics.changelog,
        partitioning=topics.changelog_partitioning,
        spread=topics.changelog_spread,
        partitions=await partition_count(
            settings.kafka.bootstrap_servers, topics.changelog
        ),
    )


async def settle(settings: Settings) -> ChangelogLayout:
    """Record the layout if none is, or raise when it differs from the record."""
    layout = await current(settings)
    recorded = await _recorded(settings, layout, put=True)
    if recorded is not None and recorded != layout:
        raise ConfigurationError(
            f"the changelog {layout.topic} was indexed with the "
            f"{recorded.describe()}, and is now read with the {layout.describe()}: "
            "a reindex would miss the records placed the first way. Keep the "
            "layout settings, or publish to a new changelog and replay into it."
        )
    return layout


async def check(settings: Settings) -> None:
    """Raise when a publisher would place records against the recorded layout."""
    layout = await current(settings)
    recorded = await _recorded(settings, layout, put=False)
    if recorded is not None and recorded != layout:
        raise ConfigurationError(
            f"the changelog {layout.topic} is indexed with the "
            f"{recorded.describe()}, and these settings give the "
            f"{layout.describe()}: its records would be dead-lettered as "
            "misplaced. Publish with the changelog's layout settings."
        )


async def _recorded(
    settings: Settings, layout: ChangelogLayout, put: bool
) -> ChangelogLayout | None:
    async with Producer(settings.kafka, "layout") as producer:
        registry = Registry(
            settings.kafka.bootstrap_servers, settings.topics.builds, producer
        )
        await registry.start()
        try:
            await asyncio.wait_for(registry.ready.wait(), READ_TIMEOUT_S)
            recorded = registry.layouts.get(layout.topic)
            if recorded is None and put:
                await registry.put(layout)
                log.info(
                    "recorded the layout of %s: %s",
                    layout.topic,
                    layout.describe(),
                    extra={"topic": layout.topic},
                )
                return layout
            return recorded
        finally:
            await registry.stop()
