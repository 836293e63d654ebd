"""faust's aiokafka transport, with the consumer's fetch sizes set by the worker.

faust builds the group consumer with aiokafka's ``fetch_min_bytes`` of 1: the
broker answers a fetch as soon as one record is there. Under a steady stream
the consumer thread then sends hundreds of small fetches a second and hands
each answer to the event loop: a larger share of the worker's CPU than the
indexing itself. Asking the broker to hold a fetch until a batch's worth of
bytes is there, for no longer than the batching window, makes them few and
large. The price: a quiet changelog's changes wait up to that window longer,
and an idle worker fetches once per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as driver


@dataclass(frozen=True)
class Fetch:
    """How long and for how many bytes the broker may hold a consumer's fetch."""

    min_bytes: int
    max_wait_ms: int


class App(faust.App):
    """A faust app whose group consumer fetches as :class:`Fetch` says."""

    def __init__(self, *args: Any, fetch: Fetch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch = fetch

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        fetch = cast(App, self.app).fetch
        # aiokafka reads both when it builds its fetcher, on start; faust
        # passes neither, so they are set before that.
        consumer._fetch_min_bytes = fetch.min_bytes
        consumer._fetch_max_wait_ms = fetch.max_wait_ms
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer
