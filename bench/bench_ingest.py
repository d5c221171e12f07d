"""Ingest throughput against baselines measured in the same run.

(a) single-event requests/s and p99 of `touchpoint ingest serve` versus a bare FastAPI
    endpoint that parses the same JSON, both under uvicorn with the same settings (one
    worker, uvloop, httptools, no access log), driven by the same keep-alive raw-socket
    load generator at a fixed concurrency;
(b) events/s of batch ingest (500 events per request) versus a raw aiokafka producer with the
    service's producer settings sending the same events (same keys, values and headers) to the
    same broker.

The two sides of each comparison alternate in short rounds (same total time each), so that
load from other processes on the machine falls on both alike. Run
``python -m bench.bench_ingest`` (about a minute).
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from fastapi import FastAPI, Request, Response

from services.ingest.config import IngestSettings
from services.ingest.domain.rejections import Rejection
from services.ingest.domain.touchpoints import build_touchpoint
from services.ingest.domain.validation import validate_event
from services.ingest.schemas import EventIn
from shared.auth import KeyKind
from shared.envelope import KafkaRecord, encode_touchpoint
from shared.kafka import create_producer
from tests.support.stack import Env, free_port, new_env, start_stack, stop_stack

ROUNDS = 4  # the two sides alternate in short rounds, so load from elsewhere hits both alike
ROUND_SECONDS = 2.5
WARMUP_SECONDS = 0.5
SINGLE_CONCURRENCY = 32
BATCH_CONCURRENCY = 4
BATCH_SIZE = 500
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--workers", "1"]

bare_app = FastAPI()


@bare_app.post("/v1/touchpoints")
async def bare_touchpoints(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({"accepted": 1 if body else 0}), status_code=202, media_type="application/json")


def sample_event(i: int) -> dict[str, object]:
    return {
        "id": f"bench-{i}",
        "type": "product_viewed",
        "identities": {"anonymous_id": f"anon-{i % 64}", "email": f"user{i % 64}@example.com"},
        "occurred_at": "2026-03-01T12:00:00Z",
        "properties": {"product_id": f"p-{i % 100}", "price": 19.99, "category": "games"},
        "context": {"page": {"url": "https://shop.example/p/1", "referrer": "https://search.example/"}},
    }


def request_bytes(path: str, body: bytes, key: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else float("nan")

    def add(self, other: "Load") -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.failures += other.failures
        self.latencies.extend(other.latencies)


async def _connection(port: int, requests: Sequence[bytes], until: float, measure_from: float, load: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                return
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if started >= measure_from:
                load.requests += 1
                load.failures += status >= 300
                load.latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def drive(port: int, requests: Sequence[bytes], *, concurrency: int, seconds: float) -> Load:
    """Keep `concurrency` keep-alive connections busy for `seconds` after a short warm-up."""
    measure_from = time.perf_counter() + WARMUP_SECONDS
    load = Load(seconds=seconds)
    await asyncio.gather(
        *(
            _connection(port, [*requests[c:], *requests[:c]], measure_from + seconds, measure_from, load)
            for c in range(concurrency)
        )
    )
    return load


def serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")
    return subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_healthy(port: int, path: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server on {port} not healthy")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class RawProducer:
    """The baseline of (b): the same records, sent with a plain aiokafka producer."""

    def __init__(self, env: Env, batches: Sequence[Sequence[dict[str, object]]]) -> None:
        received = datetime.now(UTC)
        self.topic = env.settings.topics.touchpoints
        # The producer settings of the service: its linger (none by default), acks=all, idempotence.
        self.producer = create_producer(env.settings, linger_ms=IngestSettings().kafka_linger_ms)
        self.batches: list[list[KafkaRecord]] = []
        for batch in batches:
            records = []
            for raw in batch:
                event = validate_event(raw)
                assert isinstance(event, EventIn)
                accepted = build_touchpoint(
                    event, source="bench", received_at=received, new_id=lambda: "x", max_properties_bytes=8192
                )
                assert not isinstance(accepted, Rejection)
                records.append(encode_touchpoint(accepted.touchpoint()))
            self.batches.append(records)

    async def _loop(self, offset: int, measure_from: float, until: float) -> int:
        sent, i = 0, offset
        while (now := time.perf_counter()) < until:
            records = self.batches[i % len(self.batches)]
            futures = [await self.producer.send(self.topic, r.value, key=r.key, headers=r.headers) for r in records]
            await asyncio.gather(*futures)
            sent += len(records) if now >= measure_from else 0
            i += 1
        return sent

    async def events(self, seconds: float) -> int:
        measure_from = time.perf_counter() + WARMUP_SECONDS
        counts = await asyncio.gather(
            *(self._loop(c, measure_from, measure_from + seconds) for c in range(BATCH_CONCURRENCY))
        )
        return sum(counts)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-ingest-") as work:
        stack = start_stack(Path(work))
        try:
            env = asyncio.run(new_env(stack))
            run(env, Path(work))
        finally:
            stop_stack(stack)


def run(env: Env, work: Path) -> None:
    key = env.keys[KeyKind.WRITE]
    server_env = {
        **env.os_env,
        "TOUCHPOINT_RATE_LIMIT_EVENTS_PER_S": "0",
        "TOUCHPOINT_LOG_LEVEL": "WARNING",
        "TOUCHPOINT_MAX_SENDS_IN_FLIGHT": "1000000",
    }
    singles = [request_bytes("/v1/touchpoints", orjson.dumps(sample_event(i)), key) for i in range(256)]
    batches = [[sample_event(b * BATCH_SIZE + i) for i in range(BATCH_SIZE)] for b in range(8)]
    batch_requests = [request_bytes("/v1/touchpoints", orjson.dumps({"batch": b}), key) for b in batches]

    bare_port, ingest_port = free_port(), free_port()
    bare = serve(
        ["-m", "uvicorn", "bench.bench_ingest:bare_app", "--port", str(bare_port), *UVICORN_FLAGS],
        server_env,
        work / "bare.log",
    )
    ingest = serve(
        ["-m", "services.cli", "ingest", "serve", "--port", str(ingest_port)], server_env, work / "ingest.log"
    )
    single, baseline, batch = Load(), Load(), Load()
    raw_events = 0
    try:
        wait_healthy(bare_port, "/docs", bare)
        wait_healthy(ingest_port, "/readyz", ingest)
        for _ in range(ROUNDS):
            baseline.add(asyncio.run(drive(bare_port, singles, concurrency=SINGLE_CONCURRENCY, seconds=ROUND_SECONDS)))
            single.add(asyncio.run(drive(ingest_port, singles, concurrency=SINGLE_CONCURRENCY, seconds=ROUND_SECONDS)))
        raw_events = asyncio.run(_raw_rounds(env, batches, batch, ingest_port, batch_requests))
    finally:
        stop(bare)
        stop(ingest)
    raw_rate = raw_events / (ROUNDS * ROUND_SECONDS)
    report(single, baseline, batch, raw_rate)


async def _raw_rounds(
    env: Env, batches: Sequence[Sequence[dict[str, object]]], batch: Load, port: int, requests: Sequence[bytes]
) -> int:
    raw = RawProducer(env, batches)
    await raw.producer.start()
    sent = 0
    try:
        for _ in range(ROUNDS):
            batch.add(await drive(port, requests, concurrency=BATCH_CONCURRENCY, seconds=ROUND_SECONDS))
            sent += await raw.events(ROUND_SECONDS)
    finally:
        await raw.producer.stop()
    return sent


def report(single: Load, baseline: Load, batch: Load, raw_rate: float) -> None:
    print(
        f"ingest single-event: {single.per_second:,.0f} req/s  p50 {single.percentile_ms(0.5):.1f} ms"
        f"  p99 {single.percentile_ms(0.99):.1f} ms  non-2xx {single.failures}  (concurrency {SINGLE_CONCURRENCY})"
    )
    print(
        f"bare FastAPI parse:  {baseline.per_second:,.0f} req/s  p50 {baseline.percentile_ms(0.5):.1f} ms"
        f"  p99 {baseline.percentile_ms(0.99):.1f} ms"
    )
    print(f"single-event ratio ingest/bare: {single.per_second / baseline.per_second:.2f}  (target >= 0.7)")
    events = batch.per_second * BATCH_SIZE
    print(
        f"ingest batches of {BATCH_SIZE}: {events:,.0f} events/s  ({batch.per_second:.1f} req/s,"
        f" p99 {batch.percentile_ms(0.99):.0f} ms, non-2xx {batch.failures})"
    )
    print(f"raw aiokafka producer: {raw_rate:,.0f} events/s  (concurrency {BATCH_CONCURRENCY} x {BATCH_SIZE})")
    print(f"batch ratio ingest/raw producer: {events / raw_rate:.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
