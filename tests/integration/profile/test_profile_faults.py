"""Exactly once under faults: SIGKILLed consumers, a Postgres restart, rebalances."""

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from profile_harness import (
    engine_for,
    produce,
    profile_os_env,
    profile_settings,
    read_topic,
    running_consumer,
    scalar,
    stored_graph,
    wait_until,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from services.devstack.postgres import EmbeddedPostgres
from services.profile.config import ProfileSettings
from services.profile.domain.orders import summarize_orders
from shared.db import async_url
from shared.events import Touchpoint
from shared.facts import CustomerFact, FactKind
from shared.migrate import upgrade
from tests.support.stack import Env, free_port
from tests.unit.profile.profile_fakes import InMemoryGraph
from tests.unit.profile.profile_world import world_events

POISON = [b"{truncated", b'{"id": "no-source"}', b"\xff\xfe"]


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A Postgres of this test's own, so that restarting it disturbs no other test."""
    pg = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    pg.start()
    try:
        yield pg
    finally:
        pg.stop("immediate")


async def offsets_sum(engine: AsyncEngine) -> int:
    try:
        return int(await scalar(engine, "SELECT coalesce(sum(next_offset), 0) FROM profile.consumer_offsets"))
    except Exception:  # the database may be restarting
        return -1


def start_consumer(settings: ProfileSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **profile_os_env(settings), "TOUCHPOINT_FOLD_BATCH_SIZE": "100"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "profile", "consume"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def assert_folded_exactly_once(
    engine: AsyncEngine, settings: ProfileSettings, events: list[Touchpoint], total: int
) -> None:
    reference = InMemoryGraph()
    reference.fold(events)
    assert await stored_graph(engine) == reference.canonical()
    assert await scalar(engine, "SELECT count(*) FROM profile.timeline") == len(events)
    assert await scalar(engine, "SELECT count(*) FROM profile.processed_events") == len(events)
    assert await offsets_sum(engine) == total
    dead = await read_topic(settings, settings.topics.touchpoints_dlq, expect=len(POISON))
    assert {r.value for r in dead} == set(POISON)  # at least once: a retried batch may resend its dead letters


async def test_sigkills_and_a_postgres_restart_fold_every_event_exactly_once(
    env: Env, private_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    private_postgres.create_database("faults")
    url = async_url(private_postgres.url("faults"))
    await asyncio.to_thread(upgrade, url)
    settings = profile_settings(env.settings, database_url=url)
    events = world_events(3000, people_count=300, seed=11)
    resent = random.Random(11).sample(events, 150)
    await produce(settings, events + resent, raw=POISON)
    total = len(events) + len(resent) + len(POISON)
    engine = engine_for(settings)
    log = tmp_path / "consumer.log"
    consumer = start_consumer(settings, log)
    try:
        for round_ in range(4):
            before = await offsets_sum(engine)
            await wait_until(
                lambda b=before: _moved_past(engine, b, 200), timeout_s=40, what=f"progress before fault {round_}"
            )
            if round_ == 2:
                private_postgres.stop("immediate")  # the consumer keeps running and must wait it out
                await asyncio.sleep(1.0)
                await asyncio.to_thread(private_postgres.start)
                continue
            consumer.send_signal(signal.SIGKILL)
            consumer.wait(10)
            consumer = start_consumer(settings, log)
        await wait_until(lambda: _moved_past(engine, total - 1, 0), timeout_s=60, what="every record folded")
        await wait_until(lambda: _outbox_drained(engine), timeout_s=30, what="outbox drained")
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(20) == 0
        await assert_folded_exactly_once(engine, settings, events, total)
        facts = {
            f.fact_id: f
            for f in (
                CustomerFact.from_json(r.value)
                for r in await read_topic(settings, settings.topics.customers, expect=1)
            )
        }
        assert len(facts) == await scalar(engine, "SELECT count(*) FROM profile.outbox")
        sign = {FactKind.PURCHASE: 1, FactKind.REFUND: -1, FactKind.ORDER_CANCELLED: -1}
        net = sum((f.amount or 0) * sign.get(f.kind, 0) for f in facts.values())
        graph = await stored_graph(engine)
        assert net == sum(summarize_orders(p.orders).net_revenue for p in graph.values())
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait(10)
        await engine.dispose()


async def test_two_consumers_and_a_third_that_joins_and_leaves_fold_exactly_once(env: Env) -> None:
    settings = profile_settings(env.settings, fold_batch_size=100)
    events = world_events(4000, people_count=250, seed=23)
    resent = random.Random(23).sample(events, 200)
    await produce(settings, events + resent, raw=POISON)
    total = len(events) + len(resent) + len(POISON)
    engine = engine_for(settings)
    try:
        async with running_consumer(settings), running_consumer(settings):
            await wait_until(lambda: _moved_past(engine, 0, 300), timeout_s=30, what="first progress")
            async with running_consumer(settings):
                before = await offsets_sum(engine)
                await wait_until(lambda: _moved_past(engine, before, 500), timeout_s=40, what="progress with three")
            await wait_until(lambda: _moved_past(engine, total - 1, 0), timeout_s=60, what="every record folded")
        await assert_folded_exactly_once(engine, settings, events, total)
    finally:
        await engine.dispose()


async def _moved_past(engine: AsyncEngine, before: int, by: int) -> bool:
    return await offsets_sum(engine) >= before + by


async def _outbox_drained(engine: AsyncEngine) -> bool:
    try:
        return bool(await scalar(engine, "SELECT count(*) FROM profile.outbox WHERE published_at IS NULL") == 0)
    except Exception:
        return False
