"""Exactly-once folding of a Kafka topic into Postgres.

Protocol
--------
Kafka offsets are *not* the source of truth. For every (group, topic, partition) the next
offset to fold lives in a Postgres table of the consuming service, and it is advanced in
the same transaction as the state the batch produced:

1. `getmany` returns a bounded batch. Records below the offset we believe is stored are
   dropped (they were folded already).
2. One transaction: the handler folds the batch (its own permanent dedup by event id makes a
   replayed event a no-op), then for each partition
   `UPDATE offsets SET next_offset = last+1 WHERE ... AND next_offset = believed`.
   That compare-and-set fails when another member of the group has advanced the partition
   since we loaded it (we lost it in a rebalance while the batch was in flight): the whole
   transaction rolls back, and we reload and seek. A consumer that lost its partitions can
   therefore never commit over the new owner.
3. After the commit, the offsets are also committed to Kafka, for lag monitoring only, in the
   background (the next batch does not wait for it); a failed Kafka commit is logged and
   ignored.

On partition assignment we load the stored offsets and seek to them; partitions never seen
start at the beginning of the log. If the stored offset lies beyond the log end (the broker
lost its log, e.g. the in-memory dev broker restarted), we rewind to the log start: the
permanent dedup keeps that replay from counting anything twice. The log end is the high
watermark of a fetch answered after the seek, not ListOffsets(latest): the embedded Tansu
broker answers that with the base offset of the last record batch + 1, short of the end.

Failures
--------
- Postgres or Kafka unavailable, deadlocks, serialization failures: the batch is retried
  with exponential backoff, from the stored offsets; nothing is skipped.
- A record the handler rejects (returns a `DeadLetter` for) or one that makes the handler
  raise on its own goes to the dead-letter topic with a typed reason, the original key,
  value and headers, and its origin; the offset then moves past it. A batch whose handler
  raises is retried one record at a time to isolate the poison record.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.observability import observe_many

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]

EVENTS = Counter("touchpoint_consumer_events_total", "Records handled by a fold consumer.", ["group", "outcome"])
BATCHES = Histogram(
    "touchpoint_consumer_batch_duration_seconds",
    "Time to fold and commit one batch.",
    ["group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter("touchpoint_consumer_errors_total", "Failed fold attempts, by kind.", ["group", "kind"])
DEAD_LETTERS = Counter("touchpoint_dlq_events_total", "Records sent to a dead-letter topic.", ["group", "reason"])
LAG = Gauge(
    "touchpoint_consumer_lag_messages", "Records behind the log end, as this consumer sees it.", ["group", "topic"]
)
FRESHNESS = Histogram(
    "touchpoint_consumer_record_age_seconds",
    "From a record's timestamp (its producer's clock, when the producer took it) to the commit that made its "
    "effects visible.",
    ["group"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
LAST_BATCH = Gauge("touchpoint_consumer_last_batch_timestamp_seconds", "When a batch was last committed.", ["group"])


@dataclass(frozen=True)
class DeadLetter:
    record: Record
    reason: str
    detail: str


HandleBatch = Callable[[AsyncConnection, Sequence[Record]], Awaitable[Sequence[DeadLetter]]]
# Called with the connection a batch used, once its transaction has committed (and never for a
# batch that rolled back): the place for effects that must not repeat when a batch is retried.
OnCommit = Callable[[AsyncConnection], None]
# Optional work on a batch that depends on its records alone (decoding them, say). The loop runs
# it for the next batch while the current one's transaction is in flight, then hands the handler
# that same sequence object, by which the handler finds what was prepared for it.
Prepare = Callable[[Sequence[Record]], Awaitable[None]]

_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006"}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | OSError | ConnectionError | asyncio.TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        return code in _TRANSIENT_SQLSTATES
    name = type(exc).__name__
    return "Connection" in name or "KafkaTimeout" in name or "NodeNotReady" in name


class OffsetStore:
    """Stored offsets in `<table>(group_id, topic, partition, next_offset)`."""

    def __init__(self, table: str) -> None:
        self.table = table

    async def load(self, conn: AsyncConnection, group: str, topic: str) -> dict[int, int]:
        rows = await conn.execute(
            text(f"SELECT partition, next_offset FROM {self.table} WHERE group_id = :g AND topic = :t"),
            {"g": group, "t": topic},
        )
        return {row.partition: row.next_offset for row in rows}

    async def advance(
        self, conn: AsyncConnection, group: str, tp: TopicPartition, believed: int | None, new: int
    ) -> bool:
        if believed is None:
            result = await conn.execute(
                text(
                    f"INSERT INTO {self.table} (group_id, topic, partition, next_offset) "
                    "VALUES (:g, :t, :p, :n) ON CONFLICT DO NOTHING"
                ),
                {"g": group, "t": tp.topic, "p": tp.partition, "n": new},
            )
        else:
            result = await conn.execute(
                text(
                    f"UPDATE {self.table} SET next_offset = :n "
                    "WHERE group_id = :g AND topic = :t AND partition = :p AND next_offset = :b"
                ),
                {"g": group, "t": tp.topic, "p": tp.partition, "n": new, "b": believed},
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class LostPartition(Exception):
    pass


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: "ExactlyOnceConsumer") -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self.owner.believed.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.seek_to_stored(list(assigned))


class ExactlyOnceConsumer:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        topic: str,
        group: str,
        dlq_topic: str,
        offsets: OffsetStore,
        handle: HandleBatch,
        max_records: int = 500,
        max_backoff_s: float = 5.0,
        on_commit: OnCommit | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        self.engine, self.consumer, self.producer = engine, consumer, producer
        self.on_commit = on_commit
        self.topic, self.group, self.dlq_topic = topic, group, dlq_topic
        self.offsets, self.handle = offsets, handle
        self.max_records, self.max_backoff_s = max_records, max_backoff_s
        self.believed: dict[TopicPartition, int | None] = {}
        self._sought_at: dict[TopicPartition, float] = {}
        self._stopping = asyncio.Event()
        self._kafka_offsets: dict[TopicPartition, int] = {}
        self._seeks = 0  # seeks so far: a batch polled ahead is stale once this moves
        self._ahead_window = asyncio.Event()
        self.prepare = prepare
        self._kafka_committer: asyncio.Task[None] | None = None

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    async def seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        if not assigned:
            return
        delay = 0.1
        while True:
            try:
                async with self.engine.connect() as conn:
                    stored = await self.offsets.load(conn, self.group, self.topic)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ERRORS.labels(self.group, "db_unavailable").inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        starts = await self.consumer.beginning_offsets(assigned)
        for tp in assigned:
            offset = stored.get(tp.partition)
            self.believed[tp] = offset
            self.consumer.seek(tp, starts[tp] if offset is None else offset)
            self._sought_at[tp] = time.time() * 1000
        self._seeks += 1

    async def _rewind_reset_logs(self) -> None:
        """Rewind partitions whose log (as the latest fetch after our seek saw it) ends before our offset."""
        for tp in list(self.consumer.assignment()):
            believed, high = self.believed.get(tp), self.consumer.highwater(tp)
            if believed is None or high is None or high >= believed:
                continue
            if (self.consumer.last_poll_timestamp(tp) or 0) <= self._sought_at.get(tp, 0):
                continue  # no fetch answered since the seek yet: the high watermark may be stale
            log.warning("stored offset beyond log end; log was reset, rewinding", extra={"partition": tp.partition})
            try:
                start = (await self.consumer.beginning_offsets([tp]))[tp]
                async with self.engine.begin() as conn:
                    rewound = await self.offsets.advance(conn, self.group, tp, believed, start)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ERRORS.labels(self.group, "transient").inc()
                return  # checked again after the next fetch
            if not rewound:
                await self.seek_to_stored(list(self.consumer.assignment()))
                return
            self.believed[tp] = start
            self.consumer.seek(tp, start)
            self._sought_at[tp] = time.time() * 1000
            self._seeks += 1

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        ahead: asyncio.Task[tuple[int, list[Record]]] | None = None
        try:
            while not self._stopping.is_set():
                if ahead is None:
                    records = await self._poll(timeout_ms=500)
                else:
                    polled_at, records = await ahead
                    ahead = None
                    await self._rewind_reset_logs()  # what `_poll` does, now that no batch is in flight
                    # Taken while the batch before was in flight: stale if a seek came meanwhile (the
                    # fetcher starts over from the sought offsets then).
                    records = self._unfolded(records) if polled_at == self._seeks else []
                if records:
                    if self.prepare is not None:
                        self._ahead_window.clear()
                        ahead = asyncio.get_running_loop().create_task(self._poll_ahead())
                    await self.fold_with_retry(records)
                    self._ahead_window.set()
                self._export_lag()
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            await self.flush_kafka_commits()

    async def _poll(self, *, timeout_ms: int, ahead: bool = False) -> list[Record]:
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        if not ahead:  # polled ahead, a batch is in flight: `run` checks for a reset log once it is done
            await self._rewind_reset_logs()
        return self._unfolded([r for rs in batch.values() for r in rs])

    def _unfolded(self, records: list[Record]) -> list[Record]:
        """The records of partitions we own at or past the offset stored for them; `records` itself
        when that is all of them (a prepared batch is known by its sequence object)."""
        believed = self.believed
        out = []
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            if tp in believed and (believed[tp] is None or r.offset >= (believed[tp] or 0)):
                out.append(r)
        return records if len(out) == len(records) else out

    def open_ahead_window(self) -> None:
        """Let the next batch be polled and prepared now: the handler calls this (where it is wired
        to) when the batch in flight starts waiting on its longest statements. Otherwise that
        happens once the batch in flight is done."""
        self._ahead_window.set()

    async def _poll_ahead(self) -> tuple[int, list[Record]]:
        """The next batch, as far as the fetcher already holds it, prepared (`prepare`) while the
        current batch's transaction is in flight (from `open_ahead_window` on); with the seek
        count it was taken at."""
        await self._ahead_window.wait()
        seeks = self._seeks
        records = await self._poll(timeout_ms=0, ahead=True)
        if records and self.prepare is not None:
            await self.prepare(records)
        return seeks, records

    def _export_lag(self) -> None:
        lag = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is not None:
                lag += max(0, high - (self.believed.get(tp) or 0))
        LAG.labels(self.group, self.topic).set(lag)

    async def fold_with_retry(self, records: list[Record]) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                await self._fold_and_commit(records)
                return
            except LostPartition:
                ERRORS.labels(self.group, "lost_partition").inc()
                await self.seek_to_stored(list(self.consumer.assignment()))
                return
            except Exception as exc:
                if is_transient(exc):
                    ERRORS.labels(self.group, "transient").inc()
                    log.warning("fold failed, retrying", extra={"error": type(exc).__name__, "delay_s": delay})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                ERRORS.labels(self.group, "fold_error").inc()
                log.exception("batch fold failed; isolating the poison record")
                await self._fold_one_by_one(records)
                return

    async def _fold_one_by_one(self, records: list[Record]) -> None:
        for record in records:
            delay = 0.1
            while True:
                try:
                    await self._fold_and_commit([record])
                    break
                except LostPartition:
                    await self.seek_to_stored(list(self.consumer.assignment()))
                    return
                except Exception as exc:
                    if is_transient(exc):
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.max_backoff_s)
                        continue
                    await self._fold_and_commit(
                        [record], forced=[DeadLetter(record, "fold_error", f"{type(exc).__name__}: {exc}"[:500])]
                    )
                    break

    async def _fold_and_commit(self, records: list[Record], forced: Sequence[DeadLetter] = ()) -> None:
        started = time.perf_counter()
        last: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            last[tp] = max(last.get(tp, -1), r.offset)
        async with self.engine.begin() as conn:
            dead = list(forced) if forced else list(await self.handle(conn, records))
            if dead:
                await self._send_dead_letters(dead)
            for tp, offset in last.items():
                if tp not in self.believed:
                    raise LostPartition(str(tp))
                if not await self.offsets.advance(conn, self.group, tp, self.believed[tp], offset + 1):
                    raise LostPartition(str(tp))
        if self.on_commit is not None:
            self.on_commit(conn)
        for tp, offset in last.items():
            self.believed[tp] = offset + 1
        now_ms = time.time() * 1000
        observe_many(FRESHNESS.labels(self.group), [max(0.0, now_ms - r.timestamp) / 1000 for r in records])
        folded = len(records) - len(dead)
        EVENTS.labels(self.group, "folded").inc(folded)
        BATCHES.labels(self.group).observe(time.perf_counter() - started)
        LAST_BATCH.labels(self.group).set_to_current_time()
        self._commit_to_kafka({tp: offset + 1 for tp, offset in last.items()})

    def _commit_to_kafka(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit `offsets` to Kafka in the background, for lag monitoring only (3.): the next batch
        does not wait for the broker's answer. While a commit is in flight, later offsets gather
        and go in one commit after it."""
        self._kafka_offsets.update(offsets)
        if self._kafka_committer is None or self._kafka_committer.done():
            self._kafka_committer = asyncio.get_running_loop().create_task(self._kafka_commits())

    async def _kafka_commits(self) -> None:
        while self._kafka_offsets:
            offsets, self._kafka_offsets = self._kafka_offsets, {}
            try:
                await self.consumer.commit(offsets)
            except Exception as exc:
                log.info("kafka offset commit failed (monitoring only)", extra={"error": type(exc).__name__})

    async def flush_kafka_commits(self) -> None:
        """Wait for the background Kafka commits (3.) to finish; they never raise."""
        if self._kafka_committer is not None:
            await self._kafka_committer

    async def _send_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        futures = []
        for d in dead:
            headers = [
                *(d.record.headers or ()),
                ("dlq_reason", d.reason.encode()),
                ("dlq_detail", d.detail.encode()[:1000]),
                ("dlq_topic", d.record.topic.encode()),
                ("dlq_partition", str(d.record.partition).encode()),
                ("dlq_offset", str(d.record.offset).encode()),
                ("dlq_group", self.group.encode()),
            ]
            futures.append(await self.producer.send(self.dlq_topic, d.record.value, key=d.record.key, headers=headers))
        await asyncio.gather(*futures)
        for d in dead:
            DEAD_LETTERS.labels(self.group, d.reason).inc()
            EVENTS.labels(self.group, "dead_lettered").inc()
