"""The transactional outbox relay: publishes profile.outbox rows to Kafka, then marks them.

Facts are written to profile.outbox in the transaction that commits the state they
describe, so a fact exists exactly when its state does. The relay publishes pending rows in
id order with acks=all and marks them published afterwards, in one transaction that holds
an advisory lock, so one relay at a time publishes even when several consumer processes
run one each. A crash between the broker's acknowledgement and the mark republishes the
rows: delivery is at least once, and consumers deduplicate by fact id. Published rows are
deleted after `retention_s`.
"""

import asyncio
import logging
import time

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.kafka import send_batched

log = logging.getLogger(__name__)

PENDING = Gauge("touchpoint_outbox_pending", "Outbox rows not yet published.", ["service"])
PUBLISHED = Counter("touchpoint_outbox_published_total", "Outbox rows published to Kafka.", ["service"])
RELAY_ERRORS = Counter("touchpoint_outbox_errors_total", "Failed outbox publishing rounds.", ["service"])

RELAY_LOCK = 0x70726F66696C65  # advisory lock id held by the active relay ("profile")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_s: float = 0.05,
        retention_s: float = 3600.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.engine, self.producer = engine, producer
        self.batch_size, self.idle_s, self.retention_s = batch_size, idle_s, retention_s
        self.max_backoff_s = max_backoff_s
        self._last_cleanup = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.1
        while not stop.is_set():
            try:
                published = await self.publish_once()
                delay = 0.1
            except Exception as exc:
                RELAY_ERRORS.labels("profile").inc()
                log.warning("outbox relay round failed, retrying", extra={"error": type(exc).__name__})
                await _pause(stop, delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if published < self.batch_size:
                await _pause(stop, self.idle_s)

    async def publish_once(self) -> int:
        """Publish up to one batch of pending rows; returns how many were published."""
        async with self.engine.begin() as conn:
            if not (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK})).scalar():
                return 0
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, topic, key, value, headers::text AS headers FROM profile.outbox "
                        "WHERE published_at IS NULL ORDER BY id LIMIT :n"
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            if rows:
                messages = [
                    (row.topic, row.key, row.value, [(name, raw.encode()) for name, raw in orjson.loads(row.headers)])
                    for row in rows
                ]
                await send_batched(self.producer, messages)
                await conn.execute(
                    text("UPDATE profile.outbox SET published_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))"),
                    {"ids": [row.id for row in rows]},
                )
            pending = 0  # a short round took every row pending when it started
            if len(rows) >= self.batch_size:
                counted = await conn.execute(text("SELECT count(*) FROM profile.outbox WHERE published_at IS NULL"))
                pending = int(counted.scalar() or 0)
            await self._cleanup(conn)
        PENDING.labels("profile").set(pending)
        PUBLISHED.labels("profile").inc(len(rows))
        return len(rows)

    async def _cleanup(self, conn: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._last_cleanup < 60:
            return
        self._last_cleanup = now
        await conn.execute(
            text("DELETE FROM profile.outbox WHERE published_at < now() - make_interval(secs => :s)"),
            {"s": self.retention_s},
        )


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
