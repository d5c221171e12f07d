"""Suppressed identity fingerprints: followed from the suppressions topic into process memory
and into ingest.suppressions, from which a starting process loads them before Kafka answers.

The topic is read from the beginning by every process (no consumer group: each needs the
whole set). A record's fingerprint joins the in-memory set first, so the refusal starts at
once; the table write follows, and the read position only advances after it, so a failed
write is retried by reading the records again.
"""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.config import IngestSettings
from services.ingest.telemetry import SUPPRESSIONS
from shared.suppression import Suppression

log = logging.getLogger(__name__)


class SuppressionTable:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(text("SELECT fingerprint FROM ingest.suppressions"))
            return {row.fingerprint for row in rows}

    async def add(self, suppressions: Sequence[Suppression]) -> None:
        if not suppressions:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ingest.suppressions (fingerprint, erased_profile_id) "
                    "SELECT * FROM unnest(CAST(:f AS text[]), CAST(:p AS text[])) ON CONFLICT DO NOTHING"
                ),
                {"f": [s.fingerprint for s in suppressions], "p": [s.erased_profile_id for s in suppressions]},
            )


class SuppressionFeed:
    def __init__(self, settings: IngestSettings, table: SuppressionTable, fingerprints: set[str]) -> None:
        self.settings, self.table, self.fingerprints = settings, table, fingerprints
        self.topic = settings.topics.suppressions
        self.positions: dict[int, int] = {}
        self.loaded = False

    def _remember(self, fingerprints: set[str]) -> None:
        self.fingerprints |= fingerprints
        SUPPRESSIONS.set(len(self.fingerprints))

    async def load_table(self) -> bool:
        try:
            self._remember(await self.table.load())
        except Exception as exc:
            log.warning("suppressions table not loaded", extra={"error": type(exc).__name__})
            return False
        self.loaded = True
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self.loaded:
                await self.load_table()
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
            )
            try:
                await consumer.start()
                await self._follow(consumer, stop)
            except Exception as exc:
                log.info("suppression feed reconnecting", extra={"error": type(exc).__name__})
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except TimeoutError:
                    pass
            finally:
                await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        partitions = await self._partitions(consumer, stop)
        if not partitions:
            return
        consumer.assign(partitions)
        for tp in partitions:
            if tp.partition in self.positions:
                consumer.seek(tp, self.positions[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=self.settings.suppression_poll_ms, max_records=1000)
            for tp, records in batch.items():
                await self._apply([r.value for r in records if r.value is not None])
                self.positions[tp.partition] = records[-1].offset + 1

    async def _partitions(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> list[TopicPartition]:
        while not stop.is_set():
            await consumer.topics()
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        return []

    async def _apply(self, values: Sequence[bytes]) -> None:
        suppressions: list[Suppression] = []
        for value in values:
            try:
                suppressions.append(Suppression.from_json(value))
            except ValidationError:
                log.warning("unreadable suppression record skipped")
        self._remember({s.fingerprint for s in suppressions})
        await self.table.add(suppressions)
