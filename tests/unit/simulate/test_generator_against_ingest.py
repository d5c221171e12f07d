"""The generator through the real ingest app (in-process), on the real broker: the ledger
holds exactly what was acknowledged, and that is exactly what reached the topic."""

import asyncio
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from services.simulate.adapters.ingest_client import IngestClient
from services.simulate.adapters.ledger_file import LedgerFile, read_ledger
from services.simulate.domain.scenario import Scenario
from services.simulate.service_layer.generator import Generator
from shared.auth import KeyKind
from shared.events import Touchpoint
from tests.support.stack import Env


async def read_ids(settings: IngestSettings, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(settings.topics.touchpoints, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    ids: list[str] = []
    try:
        for _ in range(100):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                ids += [Touchpoint.from_json(r.value).id for r in records]
            if len(ids) >= expected:
                break
    finally:
        await consumer.stop()
    return ids


async def test_the_ledger_is_what_the_topic_holds(env: Env, tmp_path: Path) -> None:
    settings = IngestSettings(**env.settings.model_dump())
    app = build_app(settings)
    ledger_path = tmp_path / "ledger.jsonl"
    async with app.router.lifespan_context(app):
        client = IngestClient(base_url="http://ingest", write_key=env.keys[KeyKind.WRITE],
                              transport=httpx.ASGITransport(app=app))
        generator = Generator(scenario=Scenario(seed=21, customers=50), client=client,
                              ledger=LedgerFile(ledger_path), source_key="key:test", rate=400, duration_s=1.5)
        stats = await generator.run()
        await client.close()
        generator.ledger.close()
    entries = list(read_ledger(ledger_path))
    assert stats.acked == len(entries) > 200
    assert stats.invalid_accepted == 0 and not stats.valid_rejected and stats.unacknowledged == 0
    codes = client.stats.rejection_codes
    assert stats.rejected == sum(codes.values()) == codes["missing_identity"]
    accepted = [e.id for e in entries if e.status == "accepted"]
    published = await read_ids(settings, len(accepted))
    assert sorted(published) == sorted(accepted)
    assert {e.id for e in entries if e.status == "duplicate"} <= set(accepted)


async def test_pause_waits_for_requests_in_flight_and_stops_sending(env: Env, tmp_path: Path) -> None:
    settings = IngestSettings(**env.settings.model_dump())
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        client = IngestClient(base_url="http://ingest", write_key=env.keys[KeyKind.WRITE],
                              transport=httpx.ASGITransport(app=app))
        answered = asyncio.Event()
        generator = Generator(scenario=Scenario(seed=22, customers=20), client=client,
                              ledger=LedgerFile(tmp_path / "l.jsonl"), source_key="key:test", rate=300, duration_s=2,
                              progress=lambda _n: answered.set() if client.stats.requests >= 5 else None)
        run = asyncio.create_task(generator.run())
        await asyncio.wait_for(answered.wait(), 10)
        await generator.pause()
        requests_at_pause = client.stats.requests
        await asyncio.sleep(0.3)
        assert client.stats.requests == requests_at_pause and not run.done()
        generator.resume()
        stats = await run
        await client.close()
        generator.ledger.close()
    assert client.stats.requests > requests_at_pause and stats.acked > 0
