"""`touchpoint profile consume`: fold touchpoints.v1 into profiles exactly once, and relay the
outbox to customers.v1 / suppressions.v1.

The exactly-once protocol (offsets stored with the state, seek on assignment, DLQ, retry
with backoff while Postgres or Kafka is away) is shared.consumer's. SIGTERM or SIGINT lets
the batch in flight commit, then stops the loop and the relay.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaConsumer

from services.profile import bootstrap
from services.profile.config import ProfileSettings
from shared.consumer import ExactlyOnceConsumer
from shared.gc_tuning import tune_gc
from shared.kafka import create_producer
from shared.observability import start_metrics_server

log = logging.getLogger(__name__)


class _Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=_Startable)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def start_when_reachable(factory: Callable[[], S], stop: asyncio.Event, *, what: str) -> S | None:
    """Build and start a Kafka client, retrying with backoff until it connects or `stop` is set."""
    delay = 0.2
    while not stop.is_set():
        client = factory()
        try:
            await client.start()
            return client
        except Exception as exc:
            log.warning("kafka not reachable, retrying", extra={"client": what, "error": type(exc).__name__})
            with contextlib.suppress(Exception):
                await client.stop()
            await _pause(stop, delay)
            delay = min(delay * 2, 5.0)
    return None


async def consume(settings: ProfileSettings, stop: asyncio.Event) -> None:
    """Run the fold loop and the outbox relay until `stop` is set."""
    tune_gc()
    engine = bootstrap.build_engine(settings, pre_ping=False)  # the loop retries on a dead connection
    producer = await start_when_reachable(lambda: create_producer(settings), stop, what="producer")
    if producer is None:
        await engine.dispose()
        return
    loops: list[ExactlyOnceConsumer] = []

    def subscribed() -> AIOKafkaConsumer:
        kafka = bootstrap.build_kafka_consumer(settings)
        loops.append(bootstrap.build_fold_loop(settings, engine=engine, consumer=kafka, producer=producer))
        return kafka

    kafka = await start_when_reachable(subscribed, stop, what="consumer")
    relay = asyncio.create_task(bootstrap.build_relay(settings, engine=engine, producer=producer).run(stop))
    try:
        if kafka is not None:
            loop = loops[-1]
            stopper = asyncio.create_task(_stop_on(stop, loop))
            try:
                await loop.run()
            finally:
                stopper.cancel()
    finally:
        stop.set()
        await relay
        if kafka is not None:
            await kafka.stop()
        await producer.stop()
        await engine.dispose()


async def _stop_on(stop: asyncio.Event, loop: ExactlyOnceConsumer) -> None:
    await stop.wait()
    loop.stop()


def run_consumer(settings: ProfileSettings) -> None:
    start_metrics_server(settings.metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(sig, stop.set)
        await consume(settings, stop)

    asyncio.run(main())
