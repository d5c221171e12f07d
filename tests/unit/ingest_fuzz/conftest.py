"""The real ingest app in-process (httpx.ASGITransport, lifespan run), on the real embedded
Postgres and broker; one environment for the module, so hypothesis examples share it."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from shared.auth import KeyKind
from tests.support.stack import TestStack, new_env

REJECTION_CODES = frozenset({
    "invalid_json", "unsupported_media_type", "body_too_large", "batch_too_large", "event_too_large",
    "invalid_field", "missing_identity", "missing_order", "server_owned_field", "unknown_field", "invalid_type",
    "suppressed", "rate_limited", "unauthorized", "forbidden", "unavailable", "invalid_request",
})


@dataclass
class FuzzIngest:
    client: httpx.AsyncClient
    settings: IngestSettings
    write_key: str
    accepted_ids: set[str] = field(default_factory=set)

    async def post_raw(self, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        base = {"authorization": f"Bearer {self.write_key}", "content-type": "application/json"}
        return await self.client.post("/v1/touchpoints", content=content, headers={**base, **(headers or {})})

    def remember(self, response: httpx.Response) -> None:
        if response.status_code in (202, 207):
            for result in response.json()["results"]:
                if result["status"] == "accepted":
                    self.accepted_ids.add(result["id"])


@pytest.fixture(scope="module")
async def fuzz_ingest(stack: TestStack) -> AsyncIterator[FuzzIngest]:
    env = await new_env(stack)
    settings = IngestSettings(**{**env.settings.model_dump(), "kafka_send_timeout_s": 5.0,
                                 "rate_limit_events_per_s": 0.0})
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", timeout=30) as client:
            yield FuzzIngest(client, settings, env.keys[KeyKind.WRITE])


async def read_all(
    settings: IngestSettings, *, expected: int, timeout_s: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        settings.topics.touchpoints, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def assert_coded(response: httpx.Response) -> dict[str, Any]:
    """A refusal: never a server error, always a machine-readable code and a sentence."""
    assert response.status_code < 500, response.text
    body = response.json()
    if "error" in body:
        assert body["error"]["code"] in REJECTION_CODES, body
        assert body["error"]["message"], body
    else:
        for result in body["results"]:
            if result["status"] == "rejected":
                assert result["error"]["code"] in REJECTION_CODES, result
                assert result["error"]["message"], result
    return dict(body)
