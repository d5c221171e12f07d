"""Producer and admin factories; topics created idempotently."""

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from shared.settings import CommonSettings

log = logging.getLogger(__name__)


def create_producer(settings: CommonSettings, **overrides: object) -> AIOKafkaProducer:
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotence,
        "request_timeout_ms": int(settings.kafka_send_timeout_s * 1000),
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
        "retry_backoff_ms": 100,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)  # type: ignore[arg-type]


def default_partition(key: bytes, partitions: Sequence[int]) -> int:
    """Where the producer's default partitioner puts a keyed message: murmur2 of the key
    (positive part) modulo the number of partitions, as the Java client does."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


# A message to send: (topic, key, value, headers).
Message = tuple[str, bytes | None, bytes, Sequence[tuple[str, bytes]]]


async def send_batched(producer: AIOKafkaProducer, messages: Sequence[Message]) -> None:
    """Send `messages` and return once the broker acknowledged every one; raise if any failed.

    They are packed, in their order, into one record batch per partition (more when one fills)
    and handed over with `send_batch`, instead of one `send` (and one future) per message. A
    keyed message goes where the producer's default partitioner would put it (murmur2 of the
    key), so per-key order and placement are the same as with `send`."""
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    delivered: list[asyncio.Future[Any]] = []
    for topic, key, value, headers in messages:
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = default_partition(key, known) if key is not None else random.choice(known)
        batch = open_batches.get((topic, partition))
        if batch is None:
            batch = open_batches[(topic, partition)] = producer.create_batch()
        if batch.append(timestamp=None, key=key, value=value, headers=list(headers)) is None:  # full
            delivered.append(await producer.send_batch(batch, topic, partition=partition))
            batch = open_batches[(topic, partition)] = producer.create_batch()
            batch.append(timestamp=None, key=key, value=value, headers=list(headers))
    for (topic, partition), batch in open_batches.items():
        delivered.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*delivered)


def topic_specs(settings: CommonSettings) -> list[NewTopic]:
    rf = settings.kafka_replication
    configs = {"min.insync.replicas": "2"} if rf >= 3 else {}
    n, t = settings.kafka_partitions, settings.topics
    return [
        NewTopic(t.touchpoints, n, rf, topic_configs=configs),
        NewTopic(t.touchpoints_dlq, 1, rf, topic_configs=configs),
        NewTopic(t.customers, n, rf, topic_configs=configs),
        NewTopic(t.customers_dlq, 1, rf, topic_configs=configs),
        NewTopic(t.suppressions, 1, rf, topic_configs=configs),
    ]


async def ensure_topics(settings: CommonSettings, *, attempts: int = 30) -> list[str]:
    """Create the platform's topics if missing; returns the names created."""
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
            for spec in missing:
                try:
                    await admin.create_topics([spec])
                except TopicAlreadyExistsError:
                    pass
            return [spec.name for spec in missing]
        except TopicAlreadyExistsError:
            return []
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            log.info("broker not ready (%s), retrying", type(exc).__name__)
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    return []
