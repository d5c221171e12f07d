"""Group commit: the records of concurrent requests go to the broker together.

Each request submits its records and awaits one future. A single flusher takes everything
submitted so far, packs it into one batch per partition (more only when a batch is full)
and hands the batches to the producer; each request's future resolves when the batches
holding ITS records were acknowledged, or fails with the first error among them. The
flusher runs as soon as anything is submitted; while the producer still holds an
undelivered batch of a partition, handing over the next one waits, and what is submitted
meanwhile gathers for the next flush. So the batches grow with the load, not with a timer,
and a lone request is sent at once.

Per record this is a dict lookup and a batch append, instead of the producer's per-message
`send` (metadata check, partitioner, accumulator, a future per record).
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from shared.envelope import KafkaRecord
from shared.kafka import default_partition

log = logging.getLogger(__name__)

PARTITION_CACHE_SIZE = 100_000


class Submission:
    """One request's records and the future its request awaits."""

    __slots__ = ("future", "records", "waiting")

    def __init__(self, records: Sequence[KafkaRecord], future: "asyncio.Future[None]") -> None:
        self.records, self.future, self.waiting = records, future, len(records)

    def acknowledged(self, count: int) -> None:
        self.waiting -= count
        if self.waiting <= 0 and not self.future.done():
            self.future.set_result(None)

    def failed(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


Members = dict[Submission, int]  # the submissions in one batch, with how many records each


class GroupCommit:
    def __init__(self, topic: str, producer: Callable[[], AIOKafkaProducer | None]) -> None:
        self.topic, self.producer = topic, producer
        self._pending: list[Submission] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._partition_cache: dict[bytes, int] = {}  # key -> partition, for `_partitions_seen` partitions
        self._partitions_seen = 0

    def submit(self, records: Sequence[KafkaRecord]) -> "asyncio.Future[None]":
        """Queue `records`; the future resolves when the broker acknowledged all of them."""
        loop = asyncio.get_running_loop()
        submission = Submission(records, loop.create_future())
        self._pending.append(submission)
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._run(), name="kafka-group-commit")
        return submission.future

    async def stop(self) -> None:
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
        pending, self._pending = self._pending, []
        for submission in pending:
            submission.failed(KafkaConnectionError("the producer is stopping"))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, []
            live = [s for s in pending if not s.future.done()]  # a request past its deadline is gone
            if live:
                await self._flush(live)

    async def _flush(self, submissions: list[Submission]) -> None:
        producer = self.producer()
        if producer is None:
            for submission in submissions:
                submission.failed(KafkaConnectionError("no producer"))
            return
        try:
            batches = self._pack(producer, submissions, sorted(await producer.partitions_for(self.topic)))
        except Exception as exc:
            for submission in submissions:
                submission.failed(exc)
            return
        for index, (partition, batch, members) in enumerate(batches):
            try:
                delivered = await producer.send_batch(batch, self.topic, partition=partition)
            except Exception as exc:
                log.info("kafka batch not handed over", extra={"error": type(exc).__name__})
                for _, _, unsent in batches[index:]:
                    for submission in unsent:
                        submission.failed(exc)
                return
            delivered.add_done_callback(lambda done, members=members: _settle(done, members))

    def _pack(
        self, producer: AIOKafkaProducer, submissions: list[Submission], partitions: list[int]
    ) -> list[tuple[int, Any, Members]]:
        open_batches: dict[int, tuple[Any, Members]] = {}
        packed: list[tuple[int, Any, Members]] = []
        for submission in submissions:
            for record in submission.records:
                partition = self._partition_of(record.key, partitions)
                current = open_batches.get(partition)
                if current is None:
                    current = open_batches[partition] = (producer.create_batch(), {})
                batch, members = current
                if not _append(batch, record):
                    packed.append((partition, batch, members))  # full: a new batch for this partition
                    batch, members = open_batches[partition] = (producer.create_batch(), {})
                    _append(batch, record)
                members[submission] = members.get(submission, 0) + 1
        packed.extend((partition, batch, members) for partition, (batch, members) in open_batches.items())
        return packed

    def _partition_of(self, key: bytes, partitions: list[int]) -> int:
        """As the producer's default partitioner: murmur2 of the key."""
        if len(partitions) != self._partitions_seen:  # the topic grew: every key may move
            self._partition_cache.clear()
            self._partitions_seen = len(partitions)
        cached = self._partition_cache.get(key)
        if cached is None:
            if len(self._partition_cache) >= PARTITION_CACHE_SIZE:
                self._partition_cache.clear()
            cached = self._partition_cache[key] = default_partition(key, partitions)
        return cached


def _append(batch: Any, record: KafkaRecord) -> bool:
    """`batch.append(timestamp=None, key=..., value=..., headers=...)` without its wrapper: the
    producer has no serializers to apply, so the record goes straight to the batch's record
    builder (aiokafka's C implementation), and the wrapper's offset is advanced as it would.
    False when the batch is full (and closed)."""
    if batch._builder.append(batch._relative_offset, None, key=record.key, value=record.value, headers=record.headers):
        batch._relative_offset += 1
        return True
    batch.close()
    return False


def _settle(delivered: "asyncio.Future[Any]", members: Members) -> None:
    if delivered.cancelled():
        error: BaseException | None = KafkaConnectionError("the batch was cancelled")
    else:
        error = delivered.exception()
    for submission, count in members.items():
        if error is None:
            submission.acknowledged(count)
        else:
            submission.failed(error)
