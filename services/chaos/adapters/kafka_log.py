"""Reading the log: dead letters (with the dedup key of the record they carry) and log ends."""

import time
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.chaos.domain.reconcile import SEP
from shared.envelope import header
from shared.events import Touchpoint


def dead_letter_key(value: bytes | None, headers: tuple[tuple[str, bytes], ...]) -> str:
    """The dedup key of the event a dead letter carries; from its CloudEvents headers when the
    value is not a readable touchpoint."""
    if value is not None:
        try:
            event = Touchpoint.from_json(value)
            return event.dedup_key
        except (ValidationError, ValueError):
            pass
    return f"{header(headers, 'ce_source') or '?'}{SEP}{header(headers, 'ce_id') or '?'}"


async def log_ends(bootstrap: str, topics: list[str], *, probe_s: float = 0.3) -> dict[tuple[str, int], int]:
    """The offset after the last record of every partition.

    The embedded broker's ListOffsets answer advances by one per produced batch rather than
    per record, so it lags behind the log when batches carry several records. The answer is
    taken as a lower bound and the records past it are fetched to find the real end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.topics()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return {}
        ends = {tp: int(offset) for tp, offset in (await consumer.end_offsets(tps)).items()}
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=int(probe_s * 1000))
            if not batch:
                break
            for tp, records in batch.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def read_dead_letters(bootstrap: str, topic: str, *, timeout_s: float = 30.0) -> Counter[str]:
    """Every record of a dead-letter topic, from the log start to its current end."""
    ends = await log_ends(bootstrap, [topic])
    wanted = {TopicPartition(t, p): end for (t, p), end in ends.items() if end > 0}
    keys: Counter[str] = Counter()
    if not wanted:
        return keys
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        done: set[TopicPartition] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(wanted) and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    keys[dead_letter_key(record.value, tuple(record.headers or ()))] += 1
                    if record.offset + 1 >= wanted[tp]:
                        done.add(tp)
        if len(done) < len(wanted):
            raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f}s")
    finally:
        await consumer.stop()
    return keys
