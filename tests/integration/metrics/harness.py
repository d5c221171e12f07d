"""The metrics service under test: produce facts, run the consumer, call the API, read tables."""

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from aiokafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.bootstrap import build_app, build_consumer
from services.metrics.config import MetricsSettings
from shared.auth import KeyKind
from shared.facts import CustomerFact, FactKind
from shared.kafka import create_producer
from tests.support.stack import Env

TODAY = date(2024, 6, 30)


def profile(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"touchpoint-test:{name}")


def fact(
    fact_id: str, kind: FactKind, who: str, day: str, amount: str | None = None, **extra: object
) -> CustomerFact:
    return CustomerFact(
        fact_id=fact_id, kind=kind, profile_id=profile(who),
        occurred_at=datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC),
        amount=Decimal(amount) if amount is not None else None, **extra,  # type: ignore[arg-type]
    )


@dataclass
class Metrics:
    env: Env
    settings: MetricsSettings
    engine: AsyncEngine
    today: date = TODAY
    log_end: dict[int, int] = field(default_factory=dict)

    async def produce(self, facts: Iterable[CustomerFact | tuple[bytes, bytes]]) -> None:
        producer = create_producer(self.settings)
        await producer.start()
        try:
            futures = []
            for f in facts:
                key, value = (str(f.profile_id).encode(), f.to_json()) if isinstance(f, CustomerFact) else f
                futures.append(await producer.send(self.settings.topics.customers, value, key=key))
            for meta in await asyncio.gather(*futures):
                self.log_end[meta.partition] = max(self.log_end.get(meta.partition, 0), meta.offset + 1)
        finally:
            await producer.stop()

    async def stored_offsets(self) -> dict[int, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(text("SELECT partition, next_offset FROM metrics.consumer_offsets"))
            return {row.partition: row.next_offset for row in rows}

    async def fold(self, *, join_group: bool = False, deadline_s: float = 60.0) -> None:
        """Run the consumer until every produced record has been folded (or dead-lettered).

        With `join_group` the member subscribes as `touchpoint metrics consume` does; otherwise it is
        assigned every partition directly and seeks to the stored offsets, which skips the broker's
        group rebalance delay and exercises the same fold and offset code.
        """
        member = build_consumer(self.settings, self.engine, today=lambda: self.today)
        await member.producer.start()
        if join_group:
            member.consumer.subscribe([member.topic], listener=member.listener())
            await member.consumer.start()
        else:
            partitions = [TopicPartition(member.topic, p) for p in range(self.settings.kafka_partitions)]
            member.consumer.assign(partitions)
            await member.consumer.start()
            await member.seek_to_stored(partitions)
        task = asyncio.create_task(member.run())
        try:
            deadline = time.monotonic() + deadline_s
            while True:
                stored = await self.stored_offsets()
                if all(stored.get(p, 0) >= end for p, end in self.log_end.items()):
                    break
                assert not task.done(), task.exception()
                assert time.monotonic() < deadline, f"folded {stored}, expected {self.log_end}"
                await asyncio.sleep(0.05)
        finally:
            member.stop()
            await task
            await member.consumer.stop()
            await member.producer.stop()

    def client(self) -> httpx.AsyncClient:
        app = build_app(self.settings, engine=self.engine, today=lambda: self.today, background=False)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics")

    def headers(self, kind: KeyKind = KeyKind.READ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env.keys[kind]}"}

    async def rows(self, sql: str, **params: object) -> list[dict[str, object]]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]
