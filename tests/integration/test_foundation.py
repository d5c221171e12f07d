import asyncio
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from shared.auth import KeyKind, KeyStore, create_key, revoke_key
from shared.db import create_engine
from shared.envelope import encode_touchpoint, header
from shared.events import Identities, Touchpoint
from shared.kafka import create_producer
from tests.support.stack import Env


async def test_migrations_created_every_schema(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=1)
    async with engine.connect() as conn:
        schemas = set((await conn.execute(text("SELECT schema_name FROM information_schema.schemata"))).scalars())
    await engine.dispose()
    assert {"auth", "ingest", "profile", "metrics"} <= schemas


async def test_key_verified_then_revoked_within_ttl(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=2)
    store = KeyStore(engine, ttl_s=0.2)
    issued = await create_key(engine, kind=KeyKind.READ, source="crm")
    assert (await store.verify(issued.key)) == issued.principal
    assert await store.verify(issued.key[:-1] + ("x" if issued.key[-1] != "x" else "y")) is None
    await revoke_key(engine, key_id=issued.principal.key_id)
    await asyncio.sleep(0.3)
    assert await store.verify(issued.key) is None
    await engine.dispose()


async def test_touchpoint_round_trips_through_the_broker_as_a_cloudevent(env: Env) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    tp = Touchpoint(
        id="e1", source="shop", type="page_view", initiator="customer", phase="pre_purchase", channel="web",
        identities=Identities(anonymous_id="a1", customer_id="c1"), occurred_at=now, received_at=now,
    )
    record = encode_touchpoint(tp)
    producer = create_producer(env.settings)
    await producer.start()
    await producer.send_and_wait(env.settings.topics.touchpoints, record.value, key=record.key, headers=record.headers)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        env.settings.topics.touchpoints, bootstrap_servers=env.settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got = await asyncio.wait_for(consumer.getone(), 10)
    finally:
        await consumer.stop()
    assert got.key == b"customer_id:c1"
    assert got.value == record.value
    assert header(got.headers, "ce_type") == "io.touchpoint.touchpoint.page_view"
    assert Touchpoint.from_json(got.value) == tp


async def test_lag_seen_from_kafka_grows_while_no_consumer_runs(env: Env) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.lag import PROFILE_GROUP, measure

    producer = create_producer(env.settings)
    await producer.start()
    for i in range(7):
        await producer.send_and_wait(env.settings.topics.touchpoints, b"{}", key=f"k{i}".encode())
    await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=env.settings.kafka_bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=env.settings.kafka_bootstrap)
    await admin.start()
    await probe.start()
    await probe.topics()
    try:
        lag, end = await measure(admin, probe, PROFILE_GROUP, env.settings.topics.touchpoints)
    finally:
        await probe.stop()
        await admin.close()
    assert (lag, end) == (7, 7)
