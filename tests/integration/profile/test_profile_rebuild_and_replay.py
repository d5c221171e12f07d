import asyncio
import os
import subprocess
import sys

from profile_harness import (
    engine_for,
    produce,
    profile_os_env,
    profile_settings,
    read_topic,
    running_consumer,
    scalar,
    stored_graph,
    stored_states,
    wait_until,
)
from sqlalchemy import text

from services.profile.adapters.graph_store import PostgresGraphStore
from services.profile.entrypoints.dlq_replay import replay_dead_letters
from services.profile.service_layer.folding import fold_records
from shared.envelope import encode_touchpoint, header
from shared.kafka import create_producer
from tests.support.stack import Env
from tests.unit.profile.profile_fakes import InMemoryGraph
from tests.unit.profile.profile_world import touchpoint, world_events


def cli(settings_env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env={**os.environ, **settings_env},
        capture_output=True, timeout=120, check=True,
    )
    return done.stdout.decode()


async def test_rebuild_from_the_timeline_gives_identical_profiles(env: Env) -> None:
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    events = world_events(1500, people_count=150, seed=5)
    try:
        for start in range(0, len(events), 250):
            async with engine.begin() as conn:
                await fold_records(
                    PostgresGraphStore(conn), [e.to_json() for e in events[start : start + 250]],
                    rules=settings.lifecycle, facts_topic=settings.topics.customers,
                )
        before = await stored_states(engine)
        columns = "SELECT id, stage, segment, last_seen_at, last_purchase_at FROM profile.profiles ORDER BY id"
        async with engine.connect() as conn:
            headlines = (await conn.execute(text(columns))).all()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE profile.profiles SET state = jsonb_set(state::jsonb, '{events}', '0')::json, "
                    "stage = 'advocate' "
                    "WHERE id IN (SELECT id FROM profile.profiles WHERE state IS NOT NULL ORDER BY id LIMIT 7)"
                )
            )
        output = await asyncio.to_thread(cli, profile_os_env(settings), "profile", "rebuild", "--batch-size", "40")
        assert "7 changed" in output
        assert await stored_states(engine) == before
        async with engine.connect() as conn:
            assert (await conn.execute(text(columns))).all() == headlines
        reference = InMemoryGraph()
        reference.fold(events)
        assert await stored_graph(engine) == reference.canonical()
    finally:
        await engine.dispose()


async def test_dead_letters_replay_to_their_topic_once(env: Env) -> None:
    settings = profile_settings(env.settings)
    topics = settings.topics
    event = touchpoint("late-fix", "order_completed", customer_id="dlq-1")
    record = encode_touchpoint(event)
    producer = create_producer(settings)
    await producer.start()
    try:
        dead_headers = [*record.headers, ("dlq_reason", b"fold_error"), ("dlq_topic", topics.touchpoints.encode())]
        await producer.send_and_wait(topics.touchpoints_dlq, record.value, key=record.key, headers=dead_headers)
    finally:
        await producer.stop()

    output = await asyncio.to_thread(cli, profile_os_env(settings), "dlq", "replay", "--topic", "touchpoints")
    assert output.startswith("replayed 1 ")
    again = await replay_dead_letters(settings, which="touchpoints", idle_s=1.0)
    assert again.replayed == 0
    (replayed,) = await read_topic(settings, topics.touchpoints, expect=1)
    assert replayed.value == record.value and replayed.key == record.key
    assert header(replayed.headers, "dlq_reason") is None and header(replayed.headers, "ce_id") == "late-fix"

    await produce(settings, [event])  # the original arrives too: folded once either way
    engine = engine_for(settings)
    try:
        async with running_consumer(settings):
            await wait_until(lambda: _timeline_has(engine, 1), timeout_s=30, what="replayed event folded")
            await wait_until(lambda: _offsets_at(engine, 2), timeout_s=30, what="both records consumed")
        assert await scalar(engine, "SELECT count(*) FROM profile.timeline") == 1
    finally:
        await engine.dispose()


async def test_offsets_beyond_a_reset_log_are_rewound(env: Env) -> None:
    """The broker lost its log (the in-memory dev broker restarted) while offsets stayed stored."""
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO profile.consumer_offsets (group_id, topic, partition, next_offset) "
                    "SELECT :g, :t, p, 100000 FROM generate_series(0, :n - 1) AS p"
                ),
                {"g": settings.consumer_group, "t": settings.topics.touchpoints, "n": settings.kafka_partitions},
            )
        events = world_events(60, people_count=10, seed=2)
        await produce(settings, events)
        async with running_consumer(settings):
            await wait_until(lambda: _timeline_has(engine, len(events)), timeout_s=40, what="rewound and folded")
        assert await scalar(engine, "SELECT sum(next_offset) FROM profile.consumer_offsets") == len(events)
    finally:
        await engine.dispose()


async def _timeline_has(engine, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await scalar(engine, "SELECT count(*) FROM profile.timeline") >= n)


async def _offsets_at(engine, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await scalar(engine, "SELECT coalesce(sum(next_offset), 0) FROM profile.consumer_offsets") >= n)
