"""End-to-end latency: from the 202 of `touchpoint ingest serve` to the event being visible
in `touchpoint profile serve`, at half of the maximum sustainable load (DESIGN target: p99
under 500 ms).

The five services run as processes, as tests/e2e starts them (rate limit off), on an
embedded Postgres and broker, all on loopback. One asyncio client process drives them
(HTTP/1.1 over raw keep-alive sockets, to keep the client's own CPU small):

(a) Ramp: single-event POST /v1/touchpoints at increasing offered rates, STEP_S seconds
    each, paced by schedule over CONCURRENCY keep-alive connections. A step is sustained
    when the 202s per second reach 95% of the offered rate and the profile consumer's
    committed offsets (written in the same transaction as the profiles, so what they count
    is visible) catch up with every accepted event within CATCH_UP_S. The maximum is the
    highest sustained step.
(b) Latency: HALF_LOAD_S at half that maximum. Every SAMPLE_EVERY-th event (fewer at high
    rates: at most MAX_SAMPLES_PER_S, to bound the polling) carries a customer id of its
    own; once its 202 arrives, GET /v1/profiles?customer_id= is polled every POLL_INTERVAL_S
    until the profile answers with at least one touchpoint. Latency is the arrival of that
    answer minus the arrival of the 202, so it includes up to one poll interval and one GET.
    Baseline (the measurement's own floor), in the same run and the same event loop: GETs of
    a profile that is already visible, every BASELINE_INTERVAL_S during (b), over the same
    connections as the polls; and how late the client's event loop wakes from a short sleep.

(c) The latency run again, at the same rate, on a fresh stack. The embedded broker (Tansu,
    memory storage) spends more per fetch as its log grows: a consumer fetching as fast as it
    can at 2,000 records/s took Tansu from 63% to 107% of a core while the log grew from 12k
    to 36k records, where the producer alone stayed flat at about 22%. After the ramp's
    writes, (b) measures that as much as the services; (c) measures the services at half
    load on a broker holding only its own run. Both are printed.

Run ``python -m bench e2e`` (about 2-3 minutes; BENCH_E2E_MAX_RATE=<events/s> skips the ramp
and measures the latency at half of that rate on a fresh stack).
"""

import asyncio
import itertools
import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg
import httpx
import orjson
import psutil

from shared.auth import KeyKind
from shared.db import plain_url
from tests.e2e.conftest import Service, start_services, stop_services
from tests.support.stack import Env, new_env, start_stack, stop_stack

RAMP_RATES = (100, 200, 400, 800, 1200, 1600, 2000, 2500, 3200, 4000)  # events/s offered, one step each
STEP_S = 5.0
WARMUP_S = 2.0
CATCH_UP_S = 5.0
ACHIEVED_SHARE = 0.95
CONCURRENCY = 128  # POST connections
POLL_CONNECTIONS = 32  # GET connections, shared by the pollers and the baseline
HALF_LOAD_S = 30.0
SAMPLE_EVERY = 10
MAX_SAMPLES_PER_S = 10  # at higher rates every n-th event is sampled, n > SAMPLE_EVERY, to bound the polling
POLL_INTERVAL_S = 0.005
VISIBLE_TIMEOUT_S = 10.0
BASELINE_INTERVAL_S = 0.02
LAG_INTERVAL_S = 0.005
TARGET_S = 0.5
RAMP_BUDGET_S = 85.0  # the ramp stops stepping up once it has run this long
POOL_CUSTOMERS = 2_000
SERVICE_ENV = {"TOUCHPOINT_RATE_LIMIT_EVENTS_PER_S": "0", "TOUCHPOINT_LOG_LEVEL": "WARNING"}


@dataclass
class Step:
    offered: float
    seconds: float
    accepted: int = 0
    refused: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    caught_up_s: float | None = None  # None: the consumer did not catch up within CATCH_UP_S
    post_latencies: list[float] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        return self.accepted / max(self.elapsed, self.seconds)

    @property
    def sustained(self) -> bool:
        return self.achieved >= ACHIEVED_SHARE * self.offered and self.caught_up_s is not None


@dataclass
class Probe:
    """Sampled visibility latencies and the polling baseline, in seconds."""

    latencies: list[float] = field(default_factory=list)
    unseen: int = 0
    polls: int = 0  # GETs for sampled events
    baseline: list[float] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def touchpoint(event_id: str, customer_id: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "product_viewed",
        "identities": {"customer_id": customer_id},
        "properties": {"product_id": "p-1", "price": 19.99, "category": "games"},
    }


class Folded:
    """Events the profile consumer has committed (its offsets on the touchpoints topic)."""

    def __init__(self, conn: asyncpg.Connection, topic: str) -> None:
        self.conn, self.topic = conn, topic

    async def count(self) -> int:
        sql = "SELECT coalesce(sum(next_offset), 0) FROM profile.consumer_offsets WHERE topic = $1"
        return int(await self.conn.fetchval(sql, self.topic))

    async def wait_for(self, accepted: int, timeout_s: float) -> float | None:
        """Seconds until at least `accepted` events are folded, or None after `timeout_s`."""
        started = time.perf_counter()
        while (waited := time.perf_counter() - started) < timeout_s:
            if await self.count() >= accepted:
                return waited
            await asyncio.sleep(0.05)
        return None


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def sample_every(rate: float) -> int:
    return max(SAMPLE_EVERY, math.ceil(rate / MAX_SAMPLES_PER_S))


class Driver:
    """Paced single-event POSTs over CONCURRENCY keep-alive connections."""

    def __init__(self, ingest_url: str, write_key: str) -> None:
        self.host, self.port = host_port(ingest_url)
        self.write_key = write_key
        self.run = uuid.uuid4().hex[:8]
        self.sent = itertools.count()
        self.accepted_total = 0

    def request(self, n: int, customer: str) -> bytes:
        body = orjson.dumps(touchpoint(f"e2e-{self.run}-{n}", customer))
        head = (
            f"POST /v1/touchpoints HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.write_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def step(self, rate: float, seconds: float, on_accepted: Callable[[str], None] | None = None) -> Step:
        """Offer `rate` events/s for `seconds`: event i is due at start + i/rate; a connection
        that falls behind sends at once, and nothing new is sent after the window closes.
        With `on_accepted`, every sample_every(rate)-th event has a customer of its own and is
        handed over once its 202 arrives."""
        result = Step(offered=rate, seconds=seconds)
        every = sample_every(rate)
        due = itertools.count()
        connections = [await Connection.open(self.host, self.port) for _ in range(CONCURRENCY)]
        cpu_before = time.process_time()
        start = time.perf_counter() + 0.01
        end = start + seconds

        async def send(connection: Connection) -> None:
            while (slot := start + next(due) / rate) < end:
                if (delay := slot - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                if time.perf_counter() >= end:
                    return
                n = next(self.sent)
                sampled = on_accepted is not None and n % every == 0
                customer = f"e2e-{self.run}-{n}" if sampled else f"pool-{self.run}-{n % POOL_CUSTOMERS}"
                posted = time.perf_counter()
                status, _ = await connection.exchange(self.request(n, customer))
                result.post_latencies.append(time.perf_counter() - posted)
                if status == 202:
                    result.accepted += 1
                    self.accepted_total += 1
                    if sampled and on_accepted is not None:
                        on_accepted(customer)
                else:
                    result.refused += 1

        try:
            await asyncio.gather(*(send(c) for c in connections))
        finally:
            for connection in connections:
                connection.close()
        result.elapsed = time.perf_counter() - start
        result.client_cpu = (time.process_time() - cpu_before) / result.elapsed
        return result


class Connection:
    """One keep-alive HTTP/1.1 connection: a request's bytes in, the status and body out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        return cls(*await asyncio.open_connection(host, port))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return int(head[9:12]), await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


class Watcher:
    """Polls the profile API for sampled customers until their event is visible."""

    def __init__(self, profile_url: str, read_key: str, probe: Probe) -> None:
        self.host, self.port = host_port(profile_url)
        self.read_key = read_key
        self.probe = probe
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        for _ in range(POLL_CONNECTIONS):
            self.pool.put_nowait(await Connection.open(self.host, self.port))

    def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait().close()

    async def visible(self, customer: str) -> bool:
        request = (
            f"GET /v1/profiles?customer_id={quote(customer)} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.read_key}\r\n\r\n"
        ).encode()
        connection = await self.pool.get()
        try:
            status, body = await connection.exchange(request)
        finally:
            self.pool.put_nowait(connection)
        if status == 404:
            return False
        if status != 200:
            raise RuntimeError(f"GET /v1/profiles answered {status}: {body[:200]!r}")
        return int(orjson.loads(body)["touchpoints"]["total"]) >= 1

    def on_accepted(self, customer: str) -> None:
        task = asyncio.create_task(self._watch(customer, time.perf_counter()))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _watch(self, customer: str, accepted_at: float) -> None:
        while time.perf_counter() - accepted_at < VISIBLE_TIMEOUT_S:
            self.probe.polls += 1
            if await self.visible(customer):
                self.probe.latencies.append(time.perf_counter() - accepted_at)
                return
            await asyncio.sleep(POLL_INTERVAL_S)
        self.probe.unseen += 1

    async def baseline(self, customer: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            if not await self.visible(customer):
                raise RuntimeError("the baseline profile is no longer visible")
            self.probe.baseline.append(time.perf_counter() - started)
            await asyncio.sleep(BASELINE_INTERVAL_S)

    async def loop_lag(self, stop: asyncio.Event) -> None:
        """How late this process's event loop wakes from a short sleep (the client's own delay)."""
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.probe.loop_lag.append(time.perf_counter() - started - LAG_INTERVAL_S)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks)


async def ramp(driver: Driver, folded: Folded) -> list[Step]:
    steps: list[Step] = []
    started = time.perf_counter()
    for rate in RAMP_RATES:
        if time.perf_counter() - started > RAMP_BUDGET_S:
            print(f"ramp: stopped stepping up after {RAMP_BUDGET_S:.0f}s (time bound)", flush=True)
            break
        step = await driver.step(rate, STEP_S)
        step.caught_up_s = await folded.wait_for(driver.accepted_total, CATCH_UP_S)
        steps.append(step)
        caught = f"caught up in {step.caught_up_s:.2f}s" if step.caught_up_s is not None else (
            f"NOT caught up within {CATCH_UP_S:.0f}s")
        print(
            f"ramp: offered {step.offered:6.0f}/s  achieved {step.achieved:7.1f}/s  accepted {step.accepted:6d}  "
            f"refused {step.refused}  POST p50 {percentile(step.post_latencies, 0.5) * 1000:.0f} ms "
            f"p99 {percentile(step.post_latencies, 0.99) * 1000:.0f} ms  consumer {caught}  "
            f"client cpu {step.client_cpu:.0%}  "
            f"-> {'sustained' if step.sustained else 'not sustained'}",
            flush=True,
        )
        if not step.sustained:
            break
    return steps


async def measure(env: Env, services: dict[str, Service], work: Path, max_rate: float | None) -> float | None:
    """Warm up; find the maximum sustainable rate with the ramp (unless `max_rate` is given);
    measure the latency at half of it. Returns the maximum."""
    driver = Driver(services["ingest"].url, env.keys[KeyKind.WRITE])
    probe = Probe()
    watcher = Watcher(services["profile"].url, env.keys[KeyKind.READ], probe)
    conn = await asyncpg.connect(plain_url(env.settings.database_url))
    folded = Folded(conn, env.settings.topics.touchpoints)
    try:
        await driver.step(RAMP_RATES[0], WARMUP_S)
        if await folded.wait_for(driver.accepted_total, 30.0) is None:
            raise RuntimeError("the profile consumer did not fold the warm-up events")
        if max_rate is None:
            steps = await ramp(driver, folded)
            sustained = [s for s in steps if s.sustained]
            if not sustained:
                print(f"max sustainable: none of the ramp's rates was sustained (lowest {RAMP_RATES[0]}/s)")
                return None
            top = max(sustained, key=lambda s: s.offered)
            if top is not steps[-1]:
                bound = f" (next step up, {steps[-1].offered:.0f}/s, not sustained)"
            elif len(steps) < len(RAMP_RATES):
                bound = " (ramp stopped by its time bound; the real maximum may be higher)"
            else:
                bound = " (highest rate of the ramp; the real maximum may be higher)"
            print(f"max sustainable: {top.offered:.0f} events/s offered, {top.achieved:.1f}/s achieved{bound}")
            max_rate = top.offered
        if await folded.wait_for(driver.accepted_total, 15.0) is None:
            raise RuntimeError("the profile consumer did not catch up before the latency run")

        await watcher.open()
        baseline_customer = f"pool-{driver.run}-0"  # folded during the warm-up
        if not await watcher.visible(baseline_customer):
            raise RuntimeError("the baseline profile is not visible")
        stop = asyncio.Event()
        background = [
            asyncio.create_task(watcher.baseline(baseline_customer, stop)),
            asyncio.create_task(watcher.loop_lag(stop)),
        ]
        consumer_url = services["profile-consumer"].url
        try:
            shares, before = CpuShares(str(work)), consumer_totals(consumer_url)
            run = await driver.step(max_rate / 2, HALF_LOAD_S, watcher.on_accepted)
            cpu = shares.shares()
            after = consumer_totals(consumer_url)
            await watcher.drain()
        finally:
            stop.set()
            await asyncio.gather(*background)
        report(run, probe, cpu, after.minus(before))
        return max_rate
    finally:
        await conn.close()
        watcher.close()


_ROLES = (
    ("ingest serve", "ingest"),
    ("profile serve", "profile api"),
    ("profile consume", "profile consumer"),
    ("metrics serve", "metrics api"),
    ("metrics consume", "metrics consumer"),
)


def _role(process: psutil.Process) -> str:
    if process.pid == os.getpid():
        return "bench client"
    try:
        name = process.name()
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("tansu"):
        return "broker"
    for needle, role in _ROLES:
        if needle in command:
            return role
    return "other"


def _ours(process: psutil.Process, me: int, work: str) -> bool:
    """A process of this run: started by this client, or the run's Postgres (daemonized by pg_ctl)."""
    try:
        chain = [process, *process.parents()]
        return any(p.pid == me for p in chain) or any(work in " ".join(p.cmdline()) for p in chain[-3:])
    except psutil.Error:
        return False


class CpuShares:
    """CPU seconds per role (each service, Postgres, the broker, this client) over a window:
    where the machine's two cores go at half load. Counts only this run's processes (whose
    ancestors are this client, or the Postgres serving `work`); everything else on the machine
    is `elsewhere`."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.started = time.perf_counter()
        self.before = self._sample()

    def _sample(self) -> dict[int, tuple[str, float]]:
        out: dict[int, tuple[str, float]] = {}
        me = os.getpid()
        for process in psutil.process_iter():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            role = _role(process) if _ours(process, me, self.work) else "elsewhere"
            out[process.pid] = (role, times.user + times.system)
        return out

    def shares(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.started
        used: dict[str, float] = {}
        for pid, (role, seconds) in self._sample().items():
            _, earlier = self.before.get(pid, (role, 0.0))
            used[role] = used.get(role, 0.0) + max(0.0, seconds - earlier)
        return {role: seconds / elapsed for role, seconds in sorted(used.items(), key=lambda kv: -kv[1])}


@dataclass
class ConsumerTotals:
    batches: float = 0.0
    seconds: float = 0.0
    folded: float = 0.0
    age_buckets: dict[float, float] = field(default_factory=dict)  # upper bound (s) -> records committed within

    def minus(self, earlier: "ConsumerTotals") -> "ConsumerTotals":
        return ConsumerTotals(
            self.batches - earlier.batches,
            self.seconds - earlier.seconds,
            self.folded - earlier.folded,
            {le: n - earlier.age_buckets.get(le, 0.0) for le, n in self.age_buckets.items()},
        )

    def age_within(self, q: float) -> float:
        """The smallest bucket bound holding a share q of the records committed (seconds)."""
        total = self.age_buckets.get(math.inf, 0.0)
        for le, n in sorted(self.age_buckets.items()):
            if total and n >= q * total:
                return le
        return math.nan


def consumer_totals(metrics_url: str) -> ConsumerTotals:
    """Batches, seconds folding, records folded and record ages of the profile consumer so far (its /metrics)."""
    totals = ConsumerTotals()
    for line in httpx.get(metrics_url, timeout=5.0).text.splitlines():
        if line.startswith("touchpoint_consumer_record_age_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            le = math.inf if bound == "+Inf" else float(bound)
            totals.age_buckets[le] = totals.age_buckets.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("touchpoint_consumer_batch_duration_seconds_count{"):
            totals.batches += float(line.rsplit(" ", 1)[1])
        elif line.startswith("touchpoint_consumer_batch_duration_seconds_sum{"):
            totals.seconds += float(line.rsplit(" ", 1)[1])
        elif line.startswith("touchpoint_consumer_events_total{") and 'outcome="folded"' in line:
            totals.folded += float(line.rsplit(" ", 1)[1])
    return totals


def report(
    run: Step, probe: Probe, cpu: dict[str, float] | None = None, consumer: ConsumerTotals | None = None
) -> None:
    ms = 1000.0
    lat = probe.latencies
    print(
        f"half load: offered {run.offered:.0f}/s for {run.seconds:.0f}s, achieved {run.achieved:.1f}/s "
        f"(accepted {run.accepted}, refused {run.refused}, POST p50 {percentile(run.post_latencies, 0.5) * ms:.0f} ms "
        f"p99 {percentile(run.post_latencies, 0.99) * ms:.0f} ms, client cpu {run.client_cpu:.0%})"
    )
    if not lat:
        print(f"e2e latency: no sampled event became visible ({probe.unseen} unseen)")
        return
    p99 = percentile(lat, 0.99)
    print(
        f"e2e latency 202 -> visible in profile API: p50 {percentile(lat, 0.5) * ms:.1f} ms, "
        f"p95 {percentile(lat, 0.95) * ms:.1f} ms, p99 {p99 * ms:.1f} ms, max {max(lat) * ms:.1f} ms, "
        f"mean {statistics.fmean(lat) * ms:.1f} ms over {len(lat)} sampled events "
        f"(1 in {sample_every(run.offered)}; {probe.unseen} not visible within {VISIBLE_TIMEOUT_S:.0f}s)"
    )
    print(f"e2e polling: every {POLL_INTERVAL_S * ms:.0f} ms, {probe.polls} GETs for sampled events "
          f"({probe.polls / (len(lat) + probe.unseen):.1f} per sampled event)")
    base = probe.baseline
    print(
        f"e2e baseline (floor): GET of an already-visible profile p50 {percentile(base, 0.5) * ms:.1f} ms, "
        f"p99 {percentile(base, 0.99) * ms:.1f} ms over {len(base)} GETs during the run; client event-loop lag "
        f"p50 {percentile(probe.loop_lag, 0.5) * ms:.1f} ms, p99 {percentile(probe.loop_lag, 0.99) * ms:.1f} ms"
    )
    if consumer and consumer.batches:
        print(
            f"e2e profile consumer at half load: {consumer.batches:.0f} batches, mean "
            f"{consumer.folded / consumer.batches:.0f} records and {consumer.seconds / consumer.batches * ms:.0f} ms "
            f"to fold and commit each; record age at commit (producer timestamp -> commit, histogram bucket "
            f"bounds): p50 <= {consumer.age_within(0.5) * ms:.0f} ms, p99 <= {consumer.age_within(0.99) * ms:.0f} ms"
        )
    if cpu:
        busy = ", ".join(f"{role} {share:.0%}" for role, share in cpu.items() if share >= 0.005)
        print(f"e2e cpu at half load (share of one core; the machine has {psutil.cpu_count()}): {busy}")
    print(f"e2e ratio: p99 / {TARGET_S * ms:.0f} ms target = {p99 / TARGET_S:.2f} (target < 1)")


def run_stack(max_rate: float | None) -> float | None:
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-e2e-") as work:
        stack = start_stack(Path(work))
        try:
            env = asyncio.run(new_env(stack))
            services = start_services(env, Path(work) / "logs", SERVICE_ENV)
            try:
                return asyncio.run(measure(env, services, Path(work), max_rate))
            finally:
                stop_services(services)
        finally:
            stop_stack(stack)


def main() -> None:
    fixed = os.environ.get("BENCH_E2E_MAX_RATE")  # skip the ramp and take this as the maximum (experiments)
    if fixed:
        print(f"--- latency at half of a given maximum, {float(fixed):.0f}/s, on a fresh stack")
        run_stack(float(fixed))
        return
    print("--- the ramp, then the latency at half load on the same stack")
    top = run_stack(None)
    if top is not None:
        print(
            "--- the latency at half load again, on a fresh stack: the embedded broker's memory storage costs "
            "more per request as its log grows, which the ramp's writes leave behind"
        )
        run_stack(top)


if __name__ == "__main__":
    main()
