"""The chaos checker's view of the log end, on the real embedded broker: it must count every
record even when batches carry several (the broker's ListOffsets advances once per batch)."""

import asyncio

import pytest

from services.chaos.adapters.kafka_log import log_ends
from shared.kafka import create_producer
from tests.support.stack import Env

pytestmark = pytest.mark.e2e


async def test_log_ends_count_every_record_of_multi_record_batches(env: Env) -> None:
    topic = env.settings.topics.touchpoints
    producer = create_producer(env.settings, linger_ms=50)
    await producer.start()
    try:
        futures = [await producer.send(topic, b"x%d" % i, partition=0) for i in range(7)]
        await producer.send_and_wait(topic, b"single", partition=1)
        offsets = [metadata.offset for metadata in await asyncio.gather(*futures)]
    finally:
        await producer.stop()
    ends = await log_ends(env.settings.kafka_bootstrap, [topic])
    assert ends[(topic, 0)] == max(offsets) + 1 == 7
    assert ends[(topic, 1)] == 1
    assert ends[(topic, 2)] == ends[(topic, 3)] == 0
