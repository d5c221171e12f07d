"""Accepted means durable: with the broker gone every request is 503 and none 2xx, and the
service recovers by itself when the broker returns. Uses a private broker, never the session's."""

import asyncio
import time
from pathlib import Path

import tests.support.stack as support
from services.devstack.broker import EmbeddedBroker
from shared.events import Touchpoint
from shared.kafka import ensure_topics
from tests.integration.ingest.harness import event, ingest_settings, read_records, running_ingest, until
from tests.support.stack import Env, free_port, new_env


async def test_broker_down_means_503_never_2xx_and_recovery_without_restart(
    stack: support.TestStack, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(tmp_path / "broker", port=free_port())
    await asyncio.to_thread(broker.start)
    try:
        env = await new_env(stack, kafka_bootstrap=broker.bootstrap)
        settings = ingest_settings(
            env, kafka_send_timeout_s=2.0, broker_probe_interval_s=0.2, broker_ready_max_age_s=1.0, retry_after_s=3
        )
        async with running_ingest(env, settings) as ingest:
            assert (await ingest.post(event(id="before"))).status_code == 202

            await asyncio.to_thread(broker.stop)
            statuses: list[int] = []
            deadline = time.monotonic() + 2 * settings.kafka_send_timeout_s  # past any send still in flight
            while time.monotonic() < deadline:
                response = await ingest.post(event())
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.headers["Retry-After"] == "3"
                    assert response.json()["error"]["code"] == "unavailable"
            assert statuses and set(statuses) == {503}
            assert (await ingest.client.get("/readyz")).status_code == 503

            await asyncio.to_thread(broker.start)
            await ensure_topics(settings)  # the embedded broker keeps its log in memory only

            async def accepted() -> bool:
                return (await ingest.post(event(id="after"))).status_code == 202

            await until(accepted, timeout_s=45, interval_s=0.25)
            assert (await ingest.client.get("/readyz")).status_code == 200
        [record] = await read_records(settings, 1)
        assert Touchpoint.from_json(record.value).id == "after"
    finally:
        await asyncio.to_thread(broker.stop)


async def test_too_many_sends_in_flight_is_503_overloaded(env: Env) -> None:
    async with running_ingest(env, ingest_settings(env, max_sends_in_flight=2)) as ingest:
        response = await ingest.post({"batch": [event(), event(), event()]})
        assert response.status_code == 503 and "Retry-After" in response.headers
        assert (await ingest.post({"batch": [event(), event()]})).status_code == 202
        metrics = (await ingest.client.get("/metrics")).text
        assert 'touchpoint_ingest_unavailable_total{reason="overloaded"}' in metrics


async def test_a_send_that_is_not_acknowledged_in_time_is_503(env: Env) -> None:
    # the producer holds its batches longer than a request may wait for them
    settings = ingest_settings(env, kafka_send_timeout_s=1.0, kafka_linger_ms=4000)
    async with running_ingest(env, settings) as ingest:
        response = await ingest.post(event())
        assert response.status_code == 503
        metrics = (await ingest.client.get("/metrics")).text
        assert 'touchpoint_ingest_unavailable_total{reason="timeout"}' in metrics
