"""Profile service: fold throughput and read latency, against baselines measured in the same run.

(a) Fold: events/s of the real consumer path (`touchpoint profile consume`'s loop in-process:
    CloudEvents decode, permanent dedup, identity locks and resolution, the pure fold, batched
    writes of profiles, identities, timeline and outbox, offsets in the same transaction)
    versus a bare asyncpg batched upsert of the same records (orjson decode; one transaction
    per 500 records: insert the event row, upsert a per-customer counter and revenue sum).
    Both read the same topic from the same broker in batches of 500, with the same fetch
    settings; each side runs twice, alternating, and the rate counts from the first committed
    batch to the last.
(b) Read: p50/p99 of GET /v1/profiles/{id} and GET /v1/profiles?email= over HTTP against
    `touchpoint profile serve` (one process), with N profiles (default 1,000,000) and two
    identities each. The profiles are loaded directly with INSERT ... SELECT generate_series
    (a real profile state as a template, customer id substituted), not through the fold.
    Baseline: the same point lookup as a bare asyncpg query from the client process.

Run ``python -m bench.bench_profile`` (about 2-3 minutes; BENCH_PROFILE_PROFILES=200000 for a
quicker read part; BENCH_PROFILE_PARTS=fold or =read for one part only).
"""

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.profile.adapters.codec import encode_profile
from services.profile.config import ProfileSettings
from services.profile.domain.fold import fold
from services.profile.entrypoints.consumer import consume
from shared.auth import KeyKind
from shared.catalogue import defaults_for
from shared.db import plain_url
from shared.envelope import encode_touchpoint
from shared.events import Identities, Item, Order, Touchpoint
from shared.kafka import create_producer
from tests.support.stack import Env, free_port, new_env, start_stack, stop_stack

FOLD_EVENTS = 40_000
CUSTOMERS = 4_000
ROUNDS = 2
READ_PROFILES = int(os.environ.get("BENCH_PROFILE_PROFILES", "1000000"))
READ_REQUESTS = 2_000
PARTS = set(os.environ.get("BENCH_PROFILE_PARTS", "fold,read").split(","))
T0 = datetime(2025, 1, 1, tzinfo=UTC)

BASELINE_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.events, bench.customers;
CREATE TABLE bench.events (key text PRIMARY KEY, customer text NOT NULL, payload jsonb NOT NULL);
CREATE TABLE bench.customers (customer text PRIMARY KEY, events bigint NOT NULL, revenue numeric NOT NULL);
"""
PROFILE_TABLES = (
    "profile.profiles, profile.identities, profile.timeline, profile.merges, profile.identity_conflicts, "
    "profile.processed_events, profile.consumer_offsets, profile.outbox"
)


def event(i: int, rng: random.Random) -> Touchpoint:
    """Visitors browse anonymously, sign in (linking cookie and account), and buy."""
    n = rng.randrange(CUSTOMERS)
    roll = rng.random()
    kind = "page_view" if roll < 0.6 else "signed_in" if roll < 0.8 else "order_completed"
    ids = Identities(anonymous_id=f"anon-{n}") if kind == "page_view" else (
        Identities(anonymous_id=f"anon-{n}", customer_id=f"cust-{n}", email=f"u{n}@example.com")
        if kind == "signed_in" else Identities(customer_id=f"cust-{n}")
    )
    phase, initiator, channel = defaults_for(kind)
    revenue = Decimal(rng.randrange(500, 20_000)) / 100
    return Touchpoint(
        id=f"fold-{i}", source="bench", type=kind, phase=phase, initiator=initiator, channel=channel, identities=ids,
        occurred_at=T0 + timedelta(minutes=i), received_at=T0 + timedelta(minutes=i),
        order=Order(order_id=f"o-{i}", revenue=revenue, items=(Item(product_id=f"p{i % 50}", category=f"c{i % 7}"),))
        if kind == "order_completed" else None,
        traits={"segment": rng.choice(["smb", "vip"])} if kind == "signed_in" else {},
    )


async def produce(env: Env, count: int) -> None:
    rng = random.Random(7)
    producer = create_producer(env.settings, linger_ms=20)
    await producer.start()
    try:
        sent = []
        for i in range(count):
            r = encode_touchpoint(event(i, rng))
            sent.append(await producer.send(env.settings.topics.touchpoints, r.value, key=r.key, headers=r.headers))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


@dataclass
class Window:
    """Rate from the first committed batch to the last."""

    first_at: float = 0.0
    first_count: int = 0
    last_at: float = 0.0
    last_count: int = 0

    def note(self, count: int) -> None:
        now = time.perf_counter()
        if not self.first_count and count:
            self.first_at, self.first_count = now, count
        self.last_at, self.last_count = now, count

    @property
    def rate(self) -> float:
        return (self.last_count - self.first_count) / max(self.last_at - self.first_at, 1e-9)


async def real_fold_rate(env: Env, round_: int) -> float:
    overrides = {
        "consumer_group": f"bench-fold-{round_}", "consumer_session_timeout_ms": 3000,
        "consumer_heartbeat_interval_ms": 500,
    }
    settings = ProfileSettings(**{**env.settings.model_dump(), **overrides})
    # The progress probe shares the consumer's event loop, so it is a bare asyncpg query:
    # its cost must not be charged to the path under test.
    probe = await asyncpg.connect(plain_url(settings.database_url))
    await probe.execute(f"TRUNCATE {PROFILE_TABLES}")
    window = Window()
    stop = asyncio.Event()
    task = asyncio.create_task(consume(settings, stop))
    try:
        while window.last_count < FOLD_EVENTS:
            count = int(await probe.fetchval("SELECT coalesce(sum(next_offset), 0) FROM profile.consumer_offsets"))
            if count != window.last_count:
                window.note(count)
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
        await probe.close()
    return window.rate


async def baseline_fold_rate(env: Env) -> float:
    conn = await asyncpg.connect(plain_url(env.settings.database_url))
    await conn.execute(BASELINE_SCHEMA)
    # The fetch settings of the consumer under test: with the library's default wait (500 ms) the
    # embedded broker holds the fetches that reach the end of a partition that long, and the
    # baseline would measure those waits instead of its upserts.
    fetch_wait = ProfileSettings(**env.settings.model_dump()).consumer_fetch_max_wait_ms
    consumer = AIOKafkaConsumer(
        bootstrap_servers=env.settings.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=fetch_wait
    )
    await consumer.start()
    window = Window()
    try:
        topic = env.settings.topics.touchpoints
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        done = 0
        while done < FOLD_EVENTS:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            keys, customers, payloads, revenue = [], [], [], []
            for r in records:
                body = orjson.loads(r.value)
                keys.append(f"{body['source']}\x1f{body['id']}")
                customers.append(r.key.decode())
                payloads.append(r.value.decode())
                revenue.append(Decimal((body.get("order") or {}).get("revenue", "0")))
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO bench.events (key, customer, payload) SELECT k, c, p::jsonb "
                    "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(k, c, p) ON CONFLICT DO NOTHING",
                    keys, customers, payloads,
                )
                await conn.execute(
                    "INSERT INTO bench.customers AS t (customer, events, revenue) SELECT c, count(*), sum(r) "
                    "FROM unnest($1::text[], $2::numeric[]) AS u(c, r) GROUP BY c ON CONFLICT (customer) DO UPDATE "
                    "SET events = t.events + EXCLUDED.events, revenue = t.revenue + EXCLUDED.revenue",
                    customers, revenue,
                )
            done += len(records)
            window.note(done)
    finally:
        await consumer.stop()
        await conn.close()
    return window.rate


async def fold_part(env: Env) -> None:
    await produce(env, FOLD_EVENTS)
    real, bare = [], []
    for round_ in range(ROUNDS):
        bare.append(await baseline_fold_rate(env))
        real.append(await real_fold_rate(env, round_))
    r, b = statistics.mean(real), statistics.mean(bare)
    print(f"fold: {r:,.0f} events/s through the consumer path ({FOLD_EVENTS:,} events, {CUSTOMERS:,} customers, "
          f"batches of 500; rounds {', '.join(f'{x:,.0f}' for x in real)})")
    rounds = ", ".join(f"{x:,.0f}" for x in bare)
    print(f"fold baseline: {b:,.0f} events/s bare asyncpg batched upsert (rounds {rounds})")
    print(f"fold ratio: {r / b:.2f} (target >= 0.5)")


def template_state() -> str:
    rng = random.Random(1)
    history = [event(i, rng) for i in range(40)]
    mine = [e.model_copy(update={"identities": Identities(customer_id="c1")}) for e in history[:4]]
    return encode_profile(fold(mine))


async def load_profiles(env: Env, n: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(plain_url(env.settings.database_url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(
            "INSERT INTO profile.profiles (id, customer_id, state, stage, segment, first_seen_at, last_seen_at, "
            "last_purchase_at) SELECT md5('p' || i)::uuid, 'c' || i, "
            "jsonb_set($1::jsonb, '{customer_id}', to_jsonb('c' || i))::json, "
            "(ARRAY['prospect','customer','repeat','loyal','advocate'])[1 + i % 5], (ARRAY['smb','vip'])[1 + i % 2], "
            "now() - (i % 700) * interval '1 day', now() - (i % 30) * interval '1 day', "
            "now() - (i % 200) * interval '1 day' FROM generate_series(1, $2) AS i",
            template_state(), n,
        )
        await conn.execute(
            "INSERT INTO profile.identities (kind, value, profile_id) "
            "SELECT 'customer_id', 'c' || i, md5('p' || i)::uuid FROM generate_series(1, $1) AS i "
            "UNION ALL SELECT 'email', 'u' || i || '@example.com', md5('p' || i)::uuid "
            "FROM generate_series(1, $1) AS i",
            n,
        )
        await conn.execute("ANALYZE profile.profiles; ANALYZE profile.identities")
    finally:
        await conn.close()
    return time.perf_counter() - started


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_gets(client: httpx.AsyncClient, paths: list[str], key: str) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    for path in paths[:100]:  # warm-up
        await client.get(path, headers=headers)
    out = []
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return out


def start_server(env: Env, port: int, log: Path) -> "subprocess.Popen[bytes]":
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "profile", "serve", "--port", str(port)],
            env={**os.environ, **env.os_env, "TOUCHPOINT_LOG_LEVEL": "WARNING"}, stdout=out, stderr=subprocess.STDOUT,
        )


async def read_part(env: Env, work: Path) -> None:
    loaded_s = await load_profiles(env, READ_PROFILES)
    print(f"read: loaded {READ_PROFILES:,} profiles and {2 * READ_PROFILES:,} identities in {loaded_s:.0f}s "
          "(INSERT ... SELECT generate_series)")
    port = free_port()
    server = start_server(env, port, work / "profile-serve.log")
    rng = random.Random(3)
    picks = [rng.randrange(1, READ_PROFILES + 1) for _ in range(READ_REQUESTS)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("profile serve did not become ready")
                await asyncio.sleep(0.2)
            conn = await asyncpg.connect(plain_url(env.settings.database_url))
            try:
                ids = {i: await conn.fetchval("SELECT md5('p' || $1::text)::uuid", str(i)) for i in set(picks)}
                bare = []
                for i in picks:
                    started = time.perf_counter()
                    await conn.fetchval("SELECT state::text FROM profile.profiles WHERE id = $1", ids[i])
                    bare.append(time.perf_counter() - started)
            finally:
                await conn.close()
            key = env.keys[KeyKind.READ]
            by_id = await timed_gets(client, [f"/v1/profiles/{ids[i]}" for i in picks], key)
            by_email = await timed_gets(client, [f"/v1/profiles?email=u{i}@example.com" for i in picks], key)
    finally:
        server.terminate()
        server.wait(10)
    ms = 1000
    p99_bare = percentile(bare, 0.99) * ms
    for name, samples in (("GET /v1/profiles/{id}", by_id), ("GET /v1/profiles?email=", by_email)):
        p99 = percentile(samples, 0.99) * ms
        print(f"read {name}: p50 {percentile(samples, 0.5) * ms:.2f} ms, p99 {p99:.2f} ms over HTTP "
              f"at {READ_PROFILES:,} profiles ({READ_REQUESTS:,} sequential requests; target p99 < 10 ms); "
              f"{p99 / p99_bare:.1f}x the bare asyncpg point query")
    print(f"read baseline: bare asyncpg SELECT by id p50 {percentile(bare, 0.5) * ms:.2f} ms, p99 {p99_bare:.2f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-profile-") as work:
        stack = start_stack(Path(work))
        try:
            if "fold" in PARTS:
                fold_env = asyncio.run(new_env(stack))
                asyncio.run(fold_part(fold_env))
            if "read" in PARTS:
                read_env = asyncio.run(new_env(stack))
                asyncio.run(read_part(read_env, Path(work)))
        finally:
            stop_stack(stack)


if __name__ == "__main__":
    main()
