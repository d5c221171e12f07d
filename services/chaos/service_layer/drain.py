"""Waiting until the platform has caught up: both consumers at the log end (by the offsets
they stored in Postgres) and nothing pending in the profile outbox."""

import asyncio
import time

from services.chaos.adapters.database import StackDatabase
from services.chaos.service_layer.monitor import Lag, measure_lag
from shared.topics import Topics


async def drained(db: StackDatabase, bootstrap: str, topics: Topics) -> bool:
    lag = await measure_lag(db, bootstrap, topics)
    return lag == Lag(0, 0) and await db.outbox_pending() == 0


async def wait_drained(db: StackDatabase, bootstrap: str, topics: Topics, *, timeout_s: float = 180.0) -> float:
    """Seconds it took; two consecutive drained readings a second apart count as drained."""
    started = time.monotonic()
    streak = 0
    while True:
        try:
            streak = streak + 1 if await drained(db, bootstrap, topics) else 0
        except Exception:
            streak = 0
        if streak >= 2:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            lag = await measure_lag(db, bootstrap, topics)
            raise TimeoutError(f"not drained after {timeout_s:.0f}s: lag {lag}, outbox {await db.outbox_pending()}")
        await asyncio.sleep(1.0)


async def wait_rewound(db: StackDatabase, bootstrap: str, topics: Topics, *, timeout_s: float = 120.0) -> float:
    """After a memory broker restart: until both consumers' stored offsets lie within the new logs."""
    from services.chaos.adapters.kafka_log import log_ends

    started = time.monotonic()
    beyond: dict[tuple[str, int], tuple[int, int]] = {}
    while True:
        try:
            ends = await log_ends(bootstrap, [topics.touchpoints, topics.customers])
            stored = {**await db.stored_offsets("profile"), **await db.stored_offsets("metrics")}
            beyond = {tp: (offset, ends.get(tp, -1)) for tp, offset in stored.items() if offset > ends.get(tp, 0)}
            if ends and not beyond:
                return time.monotonic() - started
        except Exception:
            pass
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"consumers did not rewind to the new log within {timeout_s:.0f}s; "
                               f"(topic, partition): (stored, log end) = {beyond}")
        await asyncio.sleep(0.5)
