"""The composition root of the metrics service: settings in, consumer / folder / app out."""

from collections.abc import Callable
from datetime import date

from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.config import MetricsSettings
from services.metrics.domain.figures import Policy
from services.metrics.entrypoints.http.app import create_app
from services.metrics.service_layer.fold import FactFolder, utc_today
from shared.consumer import ExactlyOnceConsumer, OffsetStore
from shared.db import create_engine
from shared.kafka import create_producer
from shared.lag import METRICS_GROUP

OFFSETS = "metrics.consumer_offsets"


def policy_of(settings: MetricsSettings) -> Policy:
    return Policy(inactivity_days=settings.inactivity_days, annual_discount_rate=settings.annual_discount_rate)


def build_folder(settings: MetricsSettings, *, today: Callable[[], date] = utc_today) -> FactFolder:
    return FactFolder(
        policy=policy_of(settings), monthly_discount_rate=settings.monthly_discount_rate, margin=settings.margin,
        today=today,
    )


def build_consumer(
    settings: MetricsSettings, engine: AsyncEngine, *, today: Callable[[], date] = utc_today
) -> ExactlyOnceConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=METRICS_GROUP, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    return ExactlyOnceConsumer(
        engine=engine, consumer=consumer, producer=create_producer(settings), topic=settings.topics.customers,
        group=METRICS_GROUP, dlq_topic=settings.topics.customers_dlq, offsets=OffsetStore(OFFSETS),
        handle=build_folder(settings, today=today), max_records=settings.consumer_max_records,
    )


def build_app(
    settings: MetricsSettings,
    *,
    engine: AsyncEngine | None = None,
    today: Callable[[], date] = utc_today,
    background: bool = True,
) -> FastAPI:
    return create_app(settings, engine or create_engine(settings), today=today, background=background)
