import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder

from services.ingest.adapters.kafka_publisher import KafkaPublisher
from services.ingest.config import IngestSettings
from services.ingest.domain.touchpoints import Accepted
from services.ingest.service_layer.ports import Unavailable, UnavailableReason
from shared.catalogue import Channel, Initiator, Phase

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TOUCHPOINT = Accepted(
    id="e1",
    source="s",
    type="page_view",
    initiator=Initiator("customer"),
    phase=Phase("pre_purchase"),
    channel=Channel("web"),
    identities={"anonymous_id": "a1"},
    occurred_at=NOW,
    received_at=NOW,
    sent_at=None,
    order=None,
    cost=None,
    feedback=None,
    referral_of=None,
    traits={},
    traits_set_once={},
    consent={},
    properties={},
    context={},
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class StuckProducer:
    """Starts and answers metadata requests, but never acknowledges a record."""

    def __init__(self) -> None:
        self.client = self
        self.metadata_ok = True
        self.stopped = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def fetch_all_metadata(self) -> None:
        if not self.metadata_ok:
            raise ConnectionError("broker down")

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> "StuckBatch":
        return StuckBatch()

    async def send_batch(self, batch: "StuckBatch", topic: str, *, partition: int) -> "asyncio.Future[Any]":
        return asyncio.get_running_loop().create_future()


def StuckBatch() -> BatchBuilder:
    """A real (local) record batch, as the producer's create_batch gives."""
    return BatchBuilder(16384, 0, is_transactional=False)


def publisher_with(produced: list[StuckProducer], clock: Clock) -> KafkaPublisher:
    settings = IngestSettings(kafka_send_timeout_s=0.05, broker_ready_max_age_s=5, producer_reset_after_s=15)

    def factory(_: IngestSettings) -> Any:
        produced.append(StuckProducer())
        return produced[-1]

    return KafkaPublisher(settings, producer_factory=factory, clock=clock)


async def test_an_unacknowledged_send_is_a_timeout_and_marks_the_broker_down_until_the_next_probe() -> None:
    clock, produced = Clock(), list[StuckProducer]()
    publisher = publisher_with(produced, clock)
    await publisher.start()
    assert publisher.ready()
    with pytest.raises(Unavailable) as refused:
        await publisher.publish([TOUCHPOINT])
    assert refused.value.reason is UnavailableReason.TIMEOUT
    assert not publisher.ready() and publisher.in_flight == 0
    with pytest.raises(Unavailable) as fast:
        publisher.check_available()
    assert fast.value.reason is UnavailableReason.BROKER_DOWN
    clock.now += 1
    await publisher.probe()
    assert publisher.ready()


async def test_metadata_too_old_means_not_ready() -> None:
    clock, produced = Clock(), list[StuckProducer]()
    publisher = publisher_with(produced, clock)
    await publisher.start()
    produced[0].metadata_ok = False
    clock.now += 6
    await publisher.probe()
    assert not publisher.ready()


async def test_a_producer_failing_while_the_broker_answers_is_replaced() -> None:
    clock, produced = Clock(), list[StuckProducer]()
    publisher = publisher_with(produced, clock)
    await publisher.start()
    with pytest.raises(Unavailable):
        await publisher.publish([TOUCHPOINT])
    clock.now += 5
    await publisher.probe()
    assert len(produced) == 1
    clock.now += 11
    await publisher.probe()
    assert len(produced) == 2 and publisher.producer is produced[1]
    await publisher.stop()
    assert produced[0].stopped and produced[1].stopped


async def test_too_many_records_in_flight_is_overloaded() -> None:
    clock, produced = Clock(), list[StuckProducer]()
    publisher = publisher_with(produced, clock)
    publisher.settings = publisher.settings.model_copy(update={"max_sends_in_flight": 0})
    await publisher.start()
    with pytest.raises(Unavailable) as refused:
        await publisher.publish([TOUCHPOINT])
    assert refused.value.reason is UnavailableReason.OVERLOADED


async def test_the_in_flight_gauge_shows_the_records_awaiting_acknowledgement() -> None:
    from prometheus_client import REGISTRY

    clock, produced = Clock(), list[StuckProducer]()
    publisher = publisher_with(produced, clock)
    await publisher.start()
    gauge = lambda: REGISTRY.get_sample_value("touchpoint_kafka_sends_in_flight")  # noqa: E731
    sending = asyncio.create_task(publisher.publish([TOUCHPOINT, TOUCHPOINT]))
    await asyncio.sleep(0.01)  # handed over, never acknowledged (the deadline is 50 ms)
    assert gauge() == 2
    with pytest.raises(Unavailable):
        await sending
    assert gauge() == 0
    await publisher.stop()
