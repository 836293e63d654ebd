"""The worker's group consumer fetches as its settings say, not as faust's."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from indexer.settings import Settings, WorkerSettings
from indexer.stack import Stack
from indexer.worker import create_app


@pytest.mark.integration
@pytest.mark.asyncio
async def test_the_broker_holds_fetches_for_the_batch_bytes_and_window(
    stack: Stack, settings: Settings
) -> None:
    worker = WorkerSettings(fetch_min_bytes=300_000, batch_within_s=0.08)
    app, _ = create_app(settings.model_copy(update={"worker": worker}))
    thread = app.consumer._thread

    consumer = thread._create_worker_consumer(app.transport)
    await consumer.start()
    try:
        # The fetcher aiokafka built on start is what asks the broker.
        fetcher = consumer._fetcher
        assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (300_000, 80)
    finally:
        await consumer.stop()


def test_by_default_a_fetch_waits_no_longer_than_a_batch() -> None:
    worker = WorkerSettings()
    app, _ = create_app(Settings())

    assert app.fetch.max_wait_ms == round(1000 * worker.batch_within_s)
    assert app.fetch.min_bytes == worker.fetch_min_bytes > 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("fetch_min_bytes", 99_999_999_999), ("batch_within_s", 3_000_000)],
)
def test_fetch_bounds_kafka_cannot_take_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        WorkerSettings.model_validate({field: value})
