"""Helpers for profile integration tests: produce touchpoints, run the consumer in-process,
wait for folds, and read the stored graph back in the form the in-memory reference uses."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.profile.adapters.codec import decode_profile
from services.profile.config import ProfileSettings
from services.profile.domain.identity import IdentityPair
from services.profile.domain.model import Profile
from services.profile.entrypoints.consumer import consume
from shared.db import create_engine
from shared.envelope import encode_touchpoint
from shared.events import Touchpoint
from shared.kafka import create_producer
from shared.settings import CommonSettings

# Fast group membership on the embedded broker; a group of its own per test database.
FAST_GROUP = {"consumer_session_timeout_ms": 3000, "consumer_heartbeat_interval_ms": 500}


def profile_settings(settings: CommonSettings, **overrides: Any) -> ProfileSettings:
    group = {"consumer_group": "touchpoint-profile-" + settings.topic_prefix.rstrip(".")}
    return ProfileSettings(**{**settings.model_dump(), **FAST_GROUP, **group, **overrides})


def profile_os_env(settings: ProfileSettings) -> dict[str, str]:
    """Environment of a `touchpoint profile consume` subprocess with these settings."""
    return {
        "TOUCHPOINT_DATABASE_URL": settings.database_url,
        "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TOUCHPOINT_KAFKA_IDEMPOTENCE": "true" if settings.kafka_idempotence else "false",
        "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix,
        "TOUCHPOINT_LOG_JSON": "true",
        "TOUCHPOINT_CONSUMER_GROUP": settings.consumer_group,
        "TOUCHPOINT_CONSUMER_SESSION_TIMEOUT_MS": str(settings.consumer_session_timeout_ms),
        "TOUCHPOINT_CONSUMER_HEARTBEAT_INTERVAL_MS": str(settings.consumer_heartbeat_interval_ms),
    }


async def produce(settings: CommonSettings, events: Sequence[Touchpoint], raw: Sequence[bytes] = ()) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        sent = []
        for event in events:
            record = encode_touchpoint(event)
            sent.append(
                await producer.send(settings.topics.touchpoints, record.value, key=record.key, headers=record.headers)
            )
        for n, value in enumerate(raw):
            sent.append(await producer.send(settings.topics.touchpoints, value, key=f"poison-{n}".encode()))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


@asynccontextmanager
async def running_consumer(settings: ProfileSettings):  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(consume(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def stored_graph(engine: AsyncEngine) -> dict[frozenset[IdentityPair], Profile]:
    """Live profiles keyed by the identities they hold, like InMemoryGraph.canonical()."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT p.id, p.state::text AS state, coalesce((SELECT json_agg(json_build_array(i.kind, i.value)) "
                "FROM profile.identities i WHERE i.profile_id = p.id), '[]')::text AS identities "
                "FROM profile.profiles p WHERE p.merged_into IS NULL"
            )
        )
        return {
            frozenset((k, v) for k, v in orjson.loads(row.identities)): decode_profile(row.state) for row in rows
        }


async def stored_states(engine: AsyncEngine) -> dict[UUID, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, state::text AS state FROM profile.profiles WHERE state IS NOT NULL"))
        return {row.id: row.state for row in rows}


Records = list[ConsumerRecord[bytes, bytes]]


async def read_topic(settings: CommonSettings, topic: str, *, expect: int, timeout_s: float = 20.0) -> Records:
    """Every record of `topic`, waiting until at least `expect` are there."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: Records = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend(records)
            if len(out) >= expect and not batch:
                break
    finally:
        await consumer.stop()
    return out


def engine_for(settings: CommonSettings) -> AsyncEngine:
    return create_engine(settings, pool_size=2)
