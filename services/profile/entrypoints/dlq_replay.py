"""`touchpoint dlq replay`: re-produce dead letters to the topic they came from.

The `dlq_*` headers are stripped and the original key, value and headers sent again; the
consumers' permanent dedup makes a replay of an already-folded event a no-op. Progress is
committed in the consumer group `touchpoint-dlq-replay` (partitions assigned directly, no
group join) after the broker acknowledged the re-sent records, so a repeated replay does not
resend them. A replay runs until `limit` records are re-sent or the topic stays quiet.
"""

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.envelope import header
from shared.kafka import create_producer
from shared.settings import CommonSettings

REPLAY_GROUP = "touchpoint-dlq-replay"


@dataclass(frozen=True)
class ReplayReport:
    dlq_topic: str
    replayed: int
    by_target: dict[str, int]


def dlq_and_origin(settings: CommonSettings, which: str) -> tuple[str, str]:
    topics = settings.topics
    if which == "customers":
        return topics.customers_dlq, topics.customers
    return topics.touchpoints_dlq, topics.touchpoints


async def replay_dead_letters(
    settings: CommonSettings, *, which: str = "touchpoints", limit: int | None = None, idle_s: float = 2.0
) -> ReplayReport:
    """Replay until `limit` records are re-sent or nothing new arrived for `idle_s`."""
    dlq_topic, default_target = dlq_and_origin(settings, which)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = create_producer(settings)
    await producer.start()
    await consumer.start()
    by_target: dict[str, int] = {}
    replayed = 0
    try:
        await consumer.topics()
        partitions = sorted(consumer.partitions_for_topic(dlq_topic) or ())
        consumer.assign([TopicPartition(dlq_topic, p) for p in partitions])  # no group join: commits only
        quiet_since = time.monotonic()
        while (limit is None or replayed < limit) and time.monotonic() - quiet_since < idle_s:
            batch = await consumer.getmany(timeout_ms=300, max_records=500)
            sent, done = [], {}
            for tp, records in batch.items():
                for record in records:
                    if limit is not None and replayed >= limit:
                        break
                    target = header(record.headers, "dlq_topic") or default_target
                    headers = [(k, v) for k, v in record.headers if not k.startswith("dlq_")]
                    sent.append(await producer.send(target, record.value, key=record.key, headers=headers))
                    by_target[target] = by_target.get(target, 0) + 1
                    replayed += 1
                    done[tp] = record.offset + 1
            if sent:
                await asyncio.gather(*sent)
                await consumer.commit(done)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
        await producer.stop()
    return ReplayReport(dlq_topic, replayed, by_target)
