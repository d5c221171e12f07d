"""The metrics service at scale: churn / CLV query latency over HTTP, refit time and memory, fold rate.

Run ``python -m bench.bench_metrics [n_customers]`` (default 1,000,000; env
TOUCHPOINT_BENCH_METRICS_CUSTOMERS overrides). On an embedded Postgres and broker:

1. Bulk load: ``n`` synthetic customers go straight into metrics.customers (``generate_series``:
   4 segments x 5 channels, 5 % cancelled on 2024-07-01) and metrics.purchase_days (COPY of
   purchase days drawn with numpy from the BG/NBD and Gamma-Gamma processes with the CDNOW
   parameters, first purchases uniform over 2022-01-01 .. 2024-06-29), a cost on ~5 % of purchase
   days. Then ``rebuild-aggregates`` derives every customer's figures, the population deltas and
   the CLV rollup exactly as the service would (the fold itself is measured in step 4).
2. Refit: ``touchpoint metrics refit --as-of 2024-06-30`` as its own process: wall time and peak RSS.
   Baseline, same run: compress + ``fit_bgnbd`` + ``fit_gamma_gamma`` alone on the same tuples.
3. Queries: ``touchpoint metrics serve`` as its own process (gauges refreshing every 30 s in the
   background, as deployed); sequential requests with a read key per endpoint; p50 / p99 against
   the 200 ms target and against ``/healthz`` on the same server.
4. Fold: PURCHASE facts for existing and new customers produced to customers.v1, folded by the real
   consumer (partitions assigned directly). Baseline, same run: the same records read with a bare
   aiokafka consumer and upserted with batched asyncpg ``INSERT .. ON CONFLICT`` (one statement
   and one commit per batch of the same size).
"""

import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import numpy as np
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from services.metrics.adapters.summaries import collect_summaries, compressed_tuples, spend_data
from services.metrics.bootstrap import build_consumer, policy_of
from services.metrics.config import MetricsSettings
from services.metrics.domain.bgnbd import BgNbdParams, fit_bgnbd, simulate_summaries
from services.metrics.domain.gamma_gamma import fit_gamma_gamma
from services.metrics.service_layer.rebuild import rebuild_aggregates
from shared.auth import KeyKind
from shared.db import create_engine, plain_url
from shared.facts import CustomerFact, FactKind
from shared.kafka import create_producer
from tests.support.stack import Env, TestStack, free_port, new_env, start_stack, stop_stack

AS_OF = "2024-06-30"
TARGET_MS = 200.0
REQUESTS = 100
FOLD_FACTS = 20_000

# The CDNOW estimates re-expressed per day (alpha scales with the time unit) and the CDNOW spend model.
TRUE_BGNBD_PER_DAY = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
SPEND_P, SPEND_Q, SPEND_V = 6.25, 3.74, 15.44
EPOCH_DAYS_TO_AS_OF = 911  # 2022-01-01 + 911 days = 2024-06-30
SEED = 20240630

LOAD_CUSTOMERS = """
INSERT INTO metrics.customers (profile_id, segment, channel, segment_value, segment_at, attributed_channel,
                               attributed_channel_at, cancelled_on)
SELECT md5('bench-' || i)::uuid, seg, ch, seg, now(), ch, now(),
       CASE WHEN i % 20 = 0 THEN DATE '2024-07-01' END
FROM (SELECT i, (ARRAY['gold', 'silver', 'bronze', 'basic'])[1 + i % 4] AS seg,
             (ARRAY['web', 'store', 'app', 'email', 'ads'])[1 + (i / 4) % 5] AS ch
      FROM generate_series(1, $1::int) AS i) AS s
"""
LOAD_PURCHASE_DAYS = """
INSERT INTO metrics.purchase_days (profile_id, day, amount, orders)
SELECT md5('bench-' || i)::uuid, DATE '2022-01-01' + d, cents / 100.0, 1 FROM bench_days
"""
LOAD_COSTS = """
INSERT INTO metrics.deduction_days (profile_id, day, refunded, cancelled, cost)
SELECT profile_id, day, 0, 0, 2.50 FROM metrics.purchase_days WHERE random() < 0.05
"""


def simulated_purchase_days(n: int) -> bytes:
    """CSV rows (customer, day offset from 2022-01-01, cents) drawn from the BG/NBD and Gamma-Gamma
    processes with the CDNOW parameters: first purchases uniform over 2022-01-01 .. 2024-06-29, repeat
    purchases at uniform days between the first and the last."""
    rng = np.random.default_rng(SEED)
    first = rng.integers(0, EPOCH_DAYS_TO_AS_OF, size=n)
    age = (EPOCH_DAYS_TO_AS_OF - first).astype(np.float64)
    x, t_x = simulate_summaries(TRUE_BGNBD_PER_DAY, age, rng)
    t_x = np.floor(t_x).astype(np.int64)
    x = x.astype(np.int64)
    customers = np.arange(1, n + 1)
    repeat = x > 0
    middle = (np.clip(x - 1, 0, None) * (t_x >= 2)).astype(np.int64)
    middle_owner = np.repeat(np.arange(n), middle)
    middle_day = 1 + np.floor(rng.random(middle_owner.size) * (t_x[middle_owner] - 1)).astype(np.int64)
    owner = np.concatenate([np.arange(n), np.flatnonzero(repeat), middle_owner])
    offset = np.concatenate([np.zeros(n, dtype=np.int64), t_x[repeat], middle_day])
    pairs = np.unique(owner * 4096 + offset)
    owner, offset = pairs // 4096, pairs % 4096
    rate = rng.gamma(SPEND_Q, 1 / SPEND_V, size=n)
    cents = np.maximum(1, np.round(rng.gamma(SPEND_P, 1 / rate[owner]) * 100)).astype(np.int64)
    rows = np.stack([customers[owner], first[owner] + offset, cents], axis=1)
    return "\n".join(",".join(map(str, row)) for row in rows.tolist()).encode() + b"\n"


def line(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<44} {value:>16}  {note}", flush=True)


async def load(settings: MetricsSettings, n: int) -> None:
    conn = await asyncpg.connect(plain_url(settings.database_url))
    try:
        await conn.execute("SELECT setseed(0.42)")
        started = time.perf_counter()
        csv = await asyncio.to_thread(simulated_purchase_days, n)
        await conn.execute(LOAD_CUSTOMERS, n)
        await conn.execute("CREATE TEMP TABLE bench_days (i int, d int, cents bigint)")
        await conn.copy_to_table("bench_days", source=io.BytesIO(csv), format="csv")
        await conn.execute(LOAD_PURCHASE_DAYS)
        await conn.execute(LOAD_COSTS)
        loaded = time.perf_counter() - started
        days = await conn.fetchval("SELECT count(*) FROM metrics.purchase_days")
        line("bulk load (simulate, COPY, generate_series)", f"{loaded:.1f} s",
             f"{n:,} customers, {days:,} purchase days")
        engine = create_engine(settings, pool_size=1)
        started = time.perf_counter()
        await rebuild_aggregates(engine, policy=policy_of(settings))
        line("rebuild-aggregates", f"{time.perf_counter() - started:.1f} s", "figures, daily population, rollup")
        await engine.dispose()
        for table in ("customers", "purchase_days", "deduction_days", "daily_population", "monthly_population",
                      "clv_rollup"):
            await conn.execute(f"VACUUM ANALYZE metrics.{table}")
        daily = await conn.fetchval("SELECT count(*) FROM metrics.daily_population")
        monthly = await conn.fetchval("SELECT count(*) FROM metrics.monthly_population")
        line("population delta rows (daily / monthly)", f"{daily:,} / {monthly:,}")
    finally:
        await conn.close()


def service_env(env: Env) -> dict[str, str]:
    return {**os.environ, **env.os_env, "TOUCHPOINT_LOG_JSON": "true", "TOUCHPOINT_REFIT_INTERVAL_S": "0",
            "TOUCHPOINT_LOG_LEVEL": "WARNING"}


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of a child process, sampled every 20 ms."""
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    output = child.stdout.read().decode() if child.stdout else ""
    if child.returncode:
        raise RuntimeError(f"{args} failed:\n{output}")
    return time.perf_counter() - started, peak / 2**20, output


async def refit(env: Env, settings: MetricsSettings) -> None:
    seconds, peak_mb, output = await asyncio.to_thread(
        run_measured, [sys.executable, "-m", "services.cli", "metrics", "refit", "--as-of", AS_OF], service_env(env)
    )
    for text_line in output.strip().splitlines()[-3:]:
        print(f"    {text_line}")
    engine = create_engine(settings, pool_size=1)
    async with engine.begin() as conn:
        await collect_summaries(conn, "bench_calibration", cutoff=datetime.fromisoformat(AS_OF).date(),
                                as_of=datetime.fromisoformat(AS_OF).date())
        tuples = await compressed_tuples(conn, "bench_calibration")
        spend = await spend_data(conn, "bench_calibration")
    await engine.dispose()
    started = time.perf_counter()
    fit_bgnbd(tuples.x, tuples.t_x_days / 7, tuples.age_days / 7, tuples.weights)
    fit_gamma_gamma(spend.x, spend.m_x, spend.weights)
    baseline = time.perf_counter() - started
    line("refit at as-of (process wall time)", f"{seconds:.1f} s", f"peak RSS {peak_mb:.0f} MB")
    line("baseline: cold fits alone on the same tuples", f"{baseline:.2f} s",
         f"{tuples.x.size:,} BG/NBD tuples, {spend.x.size:,} spend tuples")
    line("ratio refit / bare fits", f"{seconds / baseline:.1f}x", "(SQL summaries + predictions for everyone)")


async def percentiles(fetch: Callable[[], Awaitable[httpx.Response]], n: int) -> tuple[float, float]:
    for _ in range(5):
        (await fetch()).raise_for_status()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = await fetch()
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(timings), float(np.percentile(timings, 99))


async def queries(env: Env) -> None:
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [sys.executable, "-m", "services.cli", "metrics", "serve", "--port", str(port)],
        env=service_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {env.keys[KeyKind.READ]}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("metrics API did not start")
                await asyncio.sleep(0.2)
            _, health_p99 = await percentiles(lambda: client.get("/healthz"), REQUESTS)
            line("baseline: GET /healthz p99", f"{health_p99:.1f} ms")
            endpoints: list[tuple[str, dict[str, str | int]]] = [
                ("/v1/churn", {"window_days": 30, "as_of": AS_OF}),
                ("/v1/churn", {"window_days": 90, "as_of": AS_OF, "by": "segment"}),
                ("/v1/churn", {"window_days": 365, "as_of": AS_OF, "by": "cohort"}),
                ("/v1/retention", {"as_of": AS_OF}),
                ("/v1/clv", {"method": "historical", "by": "segment"}),
                ("/v1/clv", {"method": "predictive", "by": "channel", "horizon_months": 12}),
                ("/v1/clv", {"method": "simple", "by": "cohort"}),
                ("/v1/summary", {"as_of": AS_OF}),
            ]
            worst = 0.0
            for path, params in endpoints:
                p50, p99 = await percentiles(lambda p=path, q=params: client.get(p, params=q), REQUESTS)  # type: ignore[misc]
                worst = max(worst, p99)
                label = path + "?" + "&".join(f"{k}={v}" for k, v in params.items() if k != "as_of")
                line(label, f"p99 {p99:.1f} ms", f"p50 {p50:.1f} ms; {p99 / TARGET_MS:.2f} of target, "
                     f"{p99 / health_p99:.1f}x /healthz")
            line("worst churn/CLV p99 vs 200 ms target", f"{worst / TARGET_MS:.2f}", "(< 1 meets the target)")
            line("API RSS after the queries", f"{psutil.Process(server.pid).memory_info().rss / 2**20:.0f} MB")
    finally:
        server.terminate()
        server.wait(15)


def bench_facts(n: int, n_customers: int) -> list[CustomerFact]:
    rng = random.Random(5)
    start = datetime(2024, 6, 1, 12, tzinfo=UTC)
    facts = []
    for i in range(n):
        known = rng.random() < 0.7
        who = uuid.UUID(_md5(f"bench-{rng.randrange(1, n_customers + 1)}")) if known else uuid.uuid4()
        facts.append(CustomerFact(
            fact_id=f"bench-fold-{i}", kind=FactKind.PURCHASE, profile_id=who,
            occurred_at=start + timedelta(days=rng.randrange(0, 29)), order_id=str(i),
            amount=Decimal(rng.randrange(500, 20_000)) / 100, channel="web", segment="gold",
        ))
    return facts


def _md5(value: str) -> str:
    import hashlib

    return hashlib.md5(value.encode()).hexdigest()


async def fold(env: Env, settings: MetricsSettings, n_customers: int) -> None:
    facts = bench_facts(FOLD_FACTS, n_customers)
    producer = create_producer(settings)
    await producer.start()
    ends: dict[int, int] = {}
    try:
        futures = [await producer.send(settings.topics.customers, f.to_json(), key=str(f.profile_id).encode())
                   for f in facts]
        for meta in await asyncio.gather(*futures):
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    partitions = [TopicPartition(settings.topics.customers, p) for p in range(settings.kafka_partitions)]

    engine = create_engine(settings, pool_size=2)
    member = build_consumer(settings, engine, today=lambda: datetime(2024, 6, 30).date())
    await member.producer.start()
    member.consumer.assign(partitions)
    await member.consumer.start()
    await member.seek_to_stored(partitions)
    started = time.perf_counter()
    task = asyncio.create_task(member.run())
    try:
        while True:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT partition, next_offset FROM metrics.consumer_offsets"))
                stored = {r.partition: r.next_offset for r in rows}
            if all(stored.get(p, 0) >= end for p, end in ends.items()):
                break
            await asyncio.sleep(0.05)
        fold_seconds = time.perf_counter() - started
    finally:
        member.stop()
        await task
        await member.consumer.stop()
        await member.producer.stop()
        await engine.dispose()

    conn = await asyncpg.connect(plain_url(settings.database_url))
    await conn.execute("CREATE TABLE public.bench_upsert (profile_id uuid, day date, amount numeric, "
                       "PRIMARY KEY (profile_id, day))")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    consumer.assign(partitions)
    await consumer.start()
    await consumer.seek_to_beginning(*partitions)
    started = time.perf_counter()
    seen = 0
    try:
        while seen < len(facts):
            batch = await consumer.getmany(timeout_ms=500, max_records=settings.consumer_max_records)
            records = [CustomerFact.from_json(r.value) for rs in batch.values() for r in rs if r.value]
            if not records:
                continue
            days: dict[tuple[uuid.UUID, date], Decimal] = {}
            for f in records:
                key = (f.profile_id, f.occurred_at.date())
                days[key] = days.get(key, Decimal(0)) + (f.amount or Decimal(0))
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO public.bench_upsert AS u SELECT * FROM unnest($1::uuid[], $2::date[], $3::numeric[]) "
                    "ON CONFLICT (profile_id, day) DO UPDATE SET amount = u.amount + EXCLUDED.amount",
                    [p for p, _ in days], [d for _, d in days], list(days.values()),
                )
            seen += len(records)
        baseline_seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
        await conn.close()
    fold_rate, baseline_rate = len(facts) / fold_seconds, len(facts) / baseline_seconds
    line("metrics fold (consumer, exactly once)", f"{fold_rate:,.0f} facts/s", f"{len(facts):,} facts")
    line("baseline: bare aiokafka + asyncpg upsert", f"{baseline_rate:,.0f} facts/s",
         f"batches of up to {settings.consumer_max_records}")
    line("ratio fold / baseline", f"{fold_rate / baseline_rate:.2f}")


async def run(stack: TestStack, n_customers: int) -> None:
    env = await new_env(stack)
    settings = MetricsSettings(**env.settings.model_dump(), refit_interval_s=0, gauge_refresh_s=0)
    print(f"metrics at {n_customers:,} customers")
    await load(settings, n_customers)
    await refit(env, settings)
    await queries(env)
    await fold(env, settings, n_customers)


def run_bench(n_customers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-metrics-") as work:
        stack = start_stack(Path(work))
        try:
            asyncio.run(run(stack, n_customers))
        finally:
            stop_stack(stack)


def main() -> None:
    run_bench(int(os.environ.get("TOUCHPOINT_BENCH_METRICS_CUSTOMERS", "1000000")))


if __name__ == "__main__":
    run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("TOUCHPOINT_BENCH_METRICS_CUSTOMERS",
                                                                              "1000000")))
