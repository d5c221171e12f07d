"""The composition root: builds the API, the fold loop and the outbox relay from settings."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.profile.adapters.outbox_relay import OutboxRelay
from services.profile.adapters.profile_cache import ProfileCache
from services.profile.config import ProfileSettings
from services.profile.entrypoints.api import create_app
from services.profile.service_layer.folding import FoldHandler
from shared.consumer import ExactlyOnceConsumer, OffsetStore
from shared.db import create_engine

OFFSETS_TABLE = "profile.consumer_offsets"


def build_engine(settings: ProfileSettings, *, pre_ping: bool = True) -> AsyncEngine:
    return create_engine(settings, pre_ping=pre_ping)


def build_app(settings: ProfileSettings, engine: AsyncEngine | None = None) -> FastAPI:
    return create_app(settings, engine or build_engine(settings))


def build_kafka_consumer(settings: ProfileSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.fold_batch_size,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
    )


def build_fold_loop(
    settings: ProfileSettings, *, engine: AsyncEngine, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer
) -> ExactlyOnceConsumer:
    """The exactly-once loop over touchpoints.v1, subscribed (not started)."""
    topics = settings.topics
    cache = ProfileCache(settings.profile_cache_mb * 2**20) if settings.profile_cache_mb > 0 else None
    handler = FoldHandler(rules=settings.lifecycle, facts_topic=topics.customers, cache=cache)
    loop = ExactlyOnceConsumer(
        engine=engine,
        consumer=consumer,
        producer=producer,
        topic=topics.touchpoints,
        group=settings.consumer_group,
        dlq_topic=topics.touchpoints_dlq,
        offsets=OffsetStore(OFFSETS_TABLE),
        handle=handler,
        max_records=settings.fold_batch_size,
        on_commit=handler.committed,
        prepare=handler.prepare,
    )
    handler.saving = loop.open_ahead_window
    consumer.subscribe([topics.touchpoints], listener=loop.listener())
    return loop


def build_relay(settings: ProfileSettings, *, engine: AsyncEngine, producer: AIOKafkaProducer) -> OutboxRelay:
    return OutboxRelay(
        engine,
        producer,
        batch_size=settings.outbox_batch_size,
        idle_s=settings.outbox_idle_s,
        retention_s=settings.outbox_retention_s,
    )
