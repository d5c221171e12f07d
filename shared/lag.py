"""Consumer-group lag as Kafka sees it (committed offsets vs log end), exported from outside
the consumers so that a stopped consumer shows growing lag instead of vanishing."""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from shared.settings import CommonSettings

log = logging.getLogger(__name__)

GROUP_LAG = Gauge(
    "touchpoint_kafka_consumergroup_lag", "Records between a group's committed offset and the log end.",
    ["group", "topic"],
)
LOG_END = Gauge("touchpoint_kafka_log_end_offset", "Sum of log-end offsets of a topic.", ["topic"])

PROFILE_GROUP = "touchpoint-profile"
METRICS_GROUP = "touchpoint-metrics"


async def measure(admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer, group: str, topic: str) -> tuple[int, int]:
    partitions = probe.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return 0, 0
    ends = await probe.end_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    lag = 0
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, ends[tp] - done)
    return lag, sum(ends.values())


async def export_lag(settings: CommonSettings, stop: asyncio.Event, *, interval_s: float = 5.0) -> None:
    watched = [(PROFILE_GROUP, settings.topics.touchpoints), (METRICS_GROUP, settings.topics.customers)]
    while not stop.is_set():
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        try:
            await admin.start()
            await probe.start()
            await probe.topics()
            while not stop.is_set():
                for group, topic in watched:
                    lag, end = await measure(admin, probe, group, topic)
                    GROUP_LAG.labels(group, topic).set(lag)
                    LOG_END.labels(topic).set(end)
                try:
                    await asyncio.wait_for(stop.wait(), interval_s)
                except TimeoutError:
                    pass
        except Exception as exc:
            log.info("lag exporter reconnecting", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval_s)
        finally:
            await probe.stop()
            await admin.close()
