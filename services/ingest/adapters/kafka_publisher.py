"""The one long-lived Kafka producer behind the intake, and the watch that keeps it honest.

Durability: `publish` hands every record of a request to the group commit (acks=all; see
group_commit.py), then awaits their acknowledgement under one deadline of
`kafka_send_timeout_s`. It
returns only when every record was acknowledged; otherwise it raises `Unavailable`, and
the request is answered 503. Records whose deadline passed may still land later: clients
retry with the same event ids and the profile's permanent dedup counts them once.

Health: a probe fetches cluster metadata every `broker_probe_interval_s`. The publisher is
ready while the last successful probe is at most `broker_ready_max_age_s` old and no send
has failed since it; while not ready, requests get 503 at once instead of waiting for a
timeout. When sends keep failing for `producer_reset_after_s` although the probe reaches
the broker, the producer is replaced by a new one (the old one is stopped in the
background). If the broker is down at start, the probe keeps trying to start a producer.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from services.ingest.adapters.group_commit import GroupCommit
from services.ingest.adapters.records import RecordEncoder
from services.ingest.config import IngestSettings
from services.ingest.domain.touchpoints import Accepted
from services.ingest.service_layer.ports import Unavailable, UnavailableReason
from services.ingest.telemetry import PRODUCER_RESETS, SEND_DURATION, SENDS_IN_FLIGHT
from shared.envelope import KafkaRecord
from shared.kafka import create_producer

log = logging.getLogger(__name__)

NEVER = -math.inf


def ingest_producer(settings: IngestSettings) -> AIOKafkaProducer:
    return create_producer(settings, linger_ms=settings.kafka_linger_ms)


class KafkaPublisher:
    def __init__(
        self,
        settings: IngestSettings,
        *,
        producer_factory: Callable[[IngestSettings], AIOKafkaProducer] = ingest_producer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.topic = settings, settings.topics.touchpoints
        self.producer_factory, self.clock = producer_factory, clock
        self.producer: AIOKafkaProducer | None = None
        self.in_flight = 0
        self.metadata_ok_at = NEVER
        self.send_failed_at = NEVER
        self.failing_since: float | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self.group_commit = GroupCommit(self.topic, lambda: self.producer)
        self.records = RecordEncoder()
        SENDS_IN_FLIGHT.set_function(lambda: self.in_flight)  # the process's publisher (one per process)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._open()

    async def stop(self) -> None:
        await self.group_commit.stop()
        producer, self.producer = self.producer, None
        if producer is not None:
            await self._retire(producer)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.probe()
            try:
                await asyncio.wait_for(stop.wait(), self.settings.broker_probe_interval_s)
            except TimeoutError:
                pass

    async def probe(self) -> None:
        if self.producer is None:
            await self._open()
            return
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), self._probe_timeout())
        except Exception as exc:
            log.info("broker probe failed", extra={"error": type(exc).__name__})
            return
        self.metadata_ok_at = self.clock()
        if self.failing_since is not None and self.clock() - self.failing_since >= self.settings.producer_reset_after_s:
            await self._reset()

    def _probe_timeout(self) -> float:
        return max(0.5, min(self.settings.kafka_send_timeout_s, 2 * self.settings.broker_probe_interval_s))

    async def _open(self) -> bool:
        producer = self.producer_factory(self.settings)
        try:
            await asyncio.wait_for(producer.start(), self.settings.kafka_send_timeout_s)
        except Exception as exc:
            log.warning("kafka producer could not start", extra={"error": type(exc).__name__})
            self._retire_later(producer)
            return False
        self.producer = producer
        self.metadata_ok_at = self.clock()
        self.failing_since = None
        return True

    async def _reset(self) -> None:
        log.warning("kafka producer stuck; replacing it")
        PRODUCER_RESETS.inc()
        old = self.producer
        self.producer = None
        if old is not None:
            self._retire_later(old)
        await self._open()

    def _retire_later(self, producer: AIOKafkaProducer) -> None:
        task = asyncio.get_running_loop().create_task(self._retire(producer))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self.settings.kafka_send_timeout_s + 1)
        except Exception as exc:
            log.info("kafka producer did not stop cleanly", extra={"error": type(exc).__name__})

    # -- health ----------------------------------------------------------------------------

    def ready(self) -> bool:
        if self.producer is None:
            return False
        if self.clock() - self.metadata_ok_at > self.settings.broker_ready_max_age_s:
            return False
        return self.send_failed_at < self.metadata_ok_at

    def check_available(self) -> None:
        if not self.ready():
            raise Unavailable(UnavailableReason.BROKER_DOWN)

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, touchpoints: Sequence[Accepted]) -> None:
        if self.producer is None or not self.ready():
            raise Unavailable(UnavailableReason.BROKER_DOWN)
        count = len(touchpoints)
        if self.in_flight + count > self.settings.max_sends_in_flight:
            raise Unavailable(UnavailableReason.OVERLOADED)
        records = [self.records.encode(t) for t in touchpoints]
        self.in_flight += count  # SENDS_IN_FLIGHT reads it when scraped
        started = time.perf_counter()
        try:
            await self._send_all(records)
        except Unavailable:
            self.send_failed_at = self.clock()
            if self.failing_since is None:
                self.failing_since = self.send_failed_at
            raise
        finally:
            self.in_flight -= count
        self.failing_since = None
        SEND_DURATION.observe(time.perf_counter() - started)

    async def _send_all(self, records: Sequence[KafkaRecord]) -> None:
        acknowledged = self.group_commit.submit(records)
        # A timer on the future, not asyncio.timeout: the same deadline for less work per request.
        deadline = asyncio.get_running_loop().call_later(self.settings.kafka_send_timeout_s, _expire, acknowledged)
        try:
            await acknowledged
        except (TimeoutError, KafkaTimeoutError) as exc:
            raise Unavailable(UnavailableReason.TIMEOUT) from exc
        except KafkaError as exc:
            raise Unavailable(UnavailableReason.BROKER_DOWN) from exc
        finally:
            deadline.cancel()


def _expire(acknowledged: "asyncio.Future[None]") -> None:
    if not acknowledged.done():
        acknowledged.set_exception(TimeoutError("the broker did not acknowledge in time"))
