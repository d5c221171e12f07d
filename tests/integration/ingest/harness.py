"""Running the ingest app in-process against the real embedded Postgres and broker."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI

from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from shared.auth import KeyKind
from shared.events import Touchpoint
from tests.support.stack import Env


def ingest_settings(env: Env, **overrides: Any) -> IngestSettings:
    return IngestSettings(**{**env.settings.model_dump(), "kafka_send_timeout_s": 3.0, **overrides})


@dataclass
class Ingest:
    app: FastAPI
    client: httpx.AsyncClient
    settings: IngestSettings
    env: Env

    @property
    def write_key(self) -> str:
        return self.env.keys[KeyKind.WRITE]

    def auth(self, kind: KeyKind = KeyKind.WRITE) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env.keys[kind]}"}

    async def post(self, body: Any, path: str = "/v1/touchpoints", **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        return await self.client.post(path, json=body, headers=headers, **kwargs)


@contextlib.asynccontextmanager
async def running_ingest(env: Env, settings: IngestSettings | None = None) -> AsyncIterator[Ingest]:
    settings = settings or ingest_settings(env)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", timeout=30) as client:
            yield Ingest(app, client, settings, env)


def event(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "page_view", "identities": {"anonymous_id": "anon-1"}}
    body.update(fields)
    return body


async def read_records(
    settings: IngestSettings, count: int, *, topic: str | None = None, timeout_s: float = 15.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of a topic (touchpoints by default), waiting at most `timeout_s`."""
    consumer = AIOKafkaConsumer(
        topic or settings.topics.touchpoints,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def published_ids(ingest: "Ingest", *, timeout_s: float = 15.0) -> list[str]:
    """Ids of the events published so far on the default identity's partition, in log order.

    A sentinel event (default identity) is published last and everything up to it is read: the
    embedded broker's end offsets do not count records of multi-record batches, so the log end
    cannot be used to prove that nothing else was published.
    """
    sentinel = f"sentinel-{uuid.uuid4()}"
    response = await ingest.post(event(id=sentinel))
    assert response.status_code == 202, response.text
    consumer = AIOKafkaConsumer(
        ingest.settings.topics.touchpoints,
        bootstrap_servers=ingest.settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    ids: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    published = Touchpoint.from_json(record.value).id
                    if published == sentinel:
                        return ids
                    ids.append(published)
    finally:
        await consumer.stop()
    raise AssertionError("sentinel event not read back in time")


async def touchpoints(settings: IngestSettings, count: int) -> dict[str, Touchpoint]:
    records = await read_records(settings, count)
    return {tp.id: tp for tp in (Touchpoint.from_json(r.value) for r in records)}


async def until(predicate: Any, *, timeout_s: float = 10.0, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)
