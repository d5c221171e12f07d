import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.consumer import DeadLetter, ExactlyOnceConsumer, OffsetStore, Record
from shared.db import create_engine
from shared.envelope import header
from shared.kafka import create_producer
from tests.support.stack import Env

OFFSETS = "public.test_offsets"


async def _tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            f"CREATE TABLE {OFFSETS} (group_id text, topic text, partition int, next_offset bigint, "
            "PRIMARY KEY (group_id, topic, partition))"
        ))
        await conn.execute(text("CREATE TABLE public.folds (value text, n int NOT NULL DEFAULT 1)"))


async def _fold(conn: AsyncConnection, records: Sequence[Record]) -> Sequence[DeadLetter]:
    if any(r.value == b"poison" for r in records):
        raise ValueError("cannot fold poison")
    await conn.execute(text("INSERT INTO public.folds (value) SELECT unnest(CAST(:v AS text[]))"),
                       {"v": [r.value.decode() for r in records]})
    return ()


async def _produce(env: Env, values: list[bytes]) -> None:
    producer = create_producer(env.settings)
    await producer.start()
    try:
        futures = [await producer.send(env.settings.topics.touchpoints, v, key=v) for v in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _member(env: Env, engine: AsyncEngine, group: str = "g") -> ExactlyOnceConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=env.settings.kafka_bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = create_producer(env.settings)
    return ExactlyOnceConsumer(
        engine=engine, consumer=consumer, producer=producer, topic=env.settings.topics.touchpoints, group=group,
        dlq_topic=env.settings.topics.touchpoints_dlq, offsets=OffsetStore(OFFSETS), handle=_fold, max_records=50,
    )


async def _run_until(member: ExactlyOnceConsumer, engine: AsyncEngine, expected_rows: int) -> None:
    await member.producer.start()
    member.consumer.subscribe([member.topic], listener=member.listener())
    await member.consumer.start()
    task = asyncio.create_task(member.run())
    try:
        for _ in range(300):
            async with engine.connect() as conn:
                if (await conn.execute(text("SELECT count(*) FROM public.folds"))).scalar_one() >= expected_rows:
                    break
            await asyncio.sleep(0.1)
    finally:
        member.stop()
        await task
        await member.consumer.stop()
        await member.producer.stop()


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT count(*), count(DISTINCT value) FROM public.folds"))).one()
    return int(row[0]), int(row[1])


async def test_every_record_folded_once_and_offsets_stored_with_the_state(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=2)
    await _tables(engine)
    await _produce(env, [f"v{i}".encode() for i in range(400)])
    await _run_until(_member(env, engine), engine, 400)
    assert await _counts(engine) == (400, 400)
    async with engine.connect() as conn:
        stored = (await conn.execute(text(f"SELECT sum(next_offset) FROM {OFFSETS}"))).scalar_one()
    assert stored == 400
    # a restarted member resumes from the stored offsets: only new records are folded
    await _produce(env, [f"w{i}".encode() for i in range(30)])
    await _run_until(_member(env, engine), engine, 430)
    await asyncio.sleep(0.5)
    assert await _counts(engine) == (430, 430)
    await engine.dispose()


async def test_poison_record_goes_to_the_dlq_and_the_rest_is_folded(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=2)
    await _tables(engine)
    await _produce(env, [b"a1", b"a2", b"poison", b"a3"])
    await _run_until(_member(env, engine), engine, 3)
    assert await _counts(engine) == (3, 3)
    dlq = AIOKafkaConsumer(
        env.settings.topics.touchpoints_dlq, bootstrap_servers=env.settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await dlq.start()
    try:
        dead = await asyncio.wait_for(dlq.getone(), 10)
    finally:
        await dlq.stop()
    assert dead.value == b"poison"
    assert header(dead.headers, "dlq_reason") == "fold_error"
    assert header(dead.headers, "dlq_topic") == env.settings.topics.touchpoints
    await engine.dispose()


async def test_a_member_that_lost_its_partition_cannot_commit(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=2)
    await _tables(engine)
    member = _member(env, engine)
    tp = TopicPartition(env.settings.topics.touchpoints, 0)
    async with engine.begin() as conn:
        assert await member.offsets.advance(conn, "g", tp, None, 5)
    member.believed[tp] = 5
    async with engine.begin() as conn:  # the new owner moves on
        assert await member.offsets.advance(conn, "g", tp, 5, 9)
    async with engine.begin() as conn:  # the old owner's compare-and-set fails
        assert not await member.offsets.advance(conn, "g", tp, 5, 7)
        stored = (await conn.execute(text(f"SELECT next_offset FROM {OFFSETS}"))).scalar_one()
    assert stored == 9
    await engine.dispose()


async def test_a_batch_prepared_ahead_is_dropped_when_a_seek_moves_the_partitions_meanwhile(env: Env) -> None:
    """The next batch is polled and prepared while the current one is in flight. Here the current
    one loses its compare-and-set (the stored offsets were set back to 0 by someone else) and
    the loop seeks back: the batch polled ahead lies past the sought offsets and must not be
    folded, or the records between would be skipped for good."""
    engine = create_engine(env.settings, pool_size=3)
    await _tables(engine)
    await _produce(env, [f"p{i}".encode() for i in range(300)])
    prepared: list[Sequence[Record]] = []
    attempts: list[int] = []

    async def prepare(records: Sequence[Record]) -> None:
        prepared.append(records)

    async def fold(conn: AsyncConnection, records: Sequence[Record]) -> Sequence[DeadLetter]:
        attempts.append(len(records))
        if len(attempts) == 1:
            member.open_ahead_window()
            await asyncio.sleep(0.2)  # the next batch is polled and prepared meanwhile
            assert prepared, "nothing was polled ahead while the first batch was in flight"
            async with engine.begin() as other:  # another owner stores offset 0 for every partition
                await other.execute(text(
                    f"INSERT INTO {OFFSETS} (group_id, topic, partition, next_offset) "
                    "SELECT 'g', :t, p, 0 FROM generate_series(0, 63) AS p"
                ), {"t": member.topic})
        return await _fold(conn, records)

    member = _member(env, engine)
    member.handle, member.prepare = fold, prepare
    await _run_until(member, engine, 300)
    await asyncio.sleep(0.5)
    assert await _counts(engine) == (300, 300)  # every record once: the stale batch was dropped
    assert len(attempts) > 1 and len(prepared) > 1
    await engine.dispose()


async def test_batches_prepared_ahead_are_handed_to_the_handler_as_prepared(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=2)
    await _tables(engine)
    await _produce(env, [f"q{i}".encode() for i in range(400)])
    prepared: list[int] = []
    handed_prepared = 0

    async def prepare(records: Sequence[Record]) -> None:
        prepared.append(id(records))

    async def fold(conn: AsyncConnection, records: Sequence[Record]) -> Sequence[DeadLetter]:
        nonlocal handed_prepared
        handed_prepared += id(records) in prepared
        member.open_ahead_window()
        return await _fold(conn, records)

    member = _member(env, engine)
    member.handle, member.prepare = fold, prepare
    await _run_until(member, engine, 400)
    assert await _counts(engine) == (400, 400)
    assert handed_prepared >= 1  # with 50 records per batch, later batches come prepared
    await engine.dispose()
