"""Drives a scenario at a target rate through the ingest client and records the ledger.

Pacing: requests are generated so that the events sent keep up with `rate * active time`;
`concurrency` workers post them. `pause()` stops generating and waits until every request
in flight has been answered (or given up), so a caller can drain the platform; `resume()`
carries on. The run ends after `duration_s` of active time; then the held-back events and
the broken producer's records are sent and the ledger is flushed."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.simulate.adapters.ingest_client import IngestClient, ItemOutcome
from services.simulate.adapters.ledger_file import LedgerFile
from services.simulate.domain.ledger import Expect, LedgerEntry
from services.simulate.domain.poison import SOURCE as POISON_SOURCE
from services.simulate.domain.poison import PoisonRecord, poison_records
from services.simulate.domain.requests import Send
from services.simulate.domain.scenario import Scenario

ProducePoison = Callable[[Sequence[PoisonRecord]], Awaitable[None]]
Progress = Callable[[int], None]


@dataclass
class RunStats:
    sent_events: int = 0
    acked: int = 0
    duplicates_in_batch: int = 0
    rejected: int = 0
    unacknowledged: int = 0
    replays: int = 0
    poison: int = 0
    invalid_accepted: int = 0  # events built to be rejected that got a 2xx: a bug in ingest
    valid_rejected: Counter[str] = field(default_factory=Counter)  # valid events refused, by code
    elapsed_s: float = 0.0
    http_statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0


class Generator:
    def __init__(
        self, *, scenario: Scenario, client: IngestClient, ledger: LedgerFile, source_key: str, rate: float,
        duration_s: float, concurrency: int = 4, retry_grace_s: float = 60.0, poison_count: int = 0,
        produce_poison: ProducePoison | None = None, progress: Progress | None = None,
    ) -> None:
        self.scenario, self.client, self.ledger = scenario, client, ledger
        self.source_key, self.rate, self.duration_s = source_key, max(rate, 0.1), duration_s
        self.concurrency, self.retry_grace_s = concurrency, retry_grace_s
        self.poison_count, self.produce_poison = poison_count, produce_poison
        self.progress = progress or (lambda _n: None)
        self.stats = RunStats()
        self._running = asyncio.Event()
        self._running.set()
        self._queue: asyncio.Queue[Send | None] = asyncio.Queue(maxsize=concurrency * 2)
        self._active_s = 0.0

    def pause_generation(self) -> None:
        self._running.clear()

    async def pause(self) -> None:
        """Stop generating and wait until every request in flight has its answer."""
        self._running.clear()
        await self._queue.join()
        self.ledger.flush()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    async def run(self) -> RunStats:
        started = time.monotonic()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        try:
            if self.poison_count and self.produce_poison is not None:
                await self._send_poison()
            await self._generate()
            held = self.scenario.drain_held(datetime.now(UTC))
            if held is not None:
                self.stats.sent_events += held.size
                await self._queue.put(held)
        finally:
            for _ in workers:
                await self._queue.put(None)
            await asyncio.gather(*workers)
            self.ledger.flush()
        self.stats.elapsed_s = time.monotonic() - started
        self.stats.http_statuses = Counter(self.client.stats.statuses)
        self.stats.connection_errors = self.client.stats.connection_errors
        return self.stats

    async def _generate(self) -> None:
        last = time.monotonic()
        while self._active_s < self.duration_s:
            if not self._running.is_set():
                await self._running.wait()
                last = time.monotonic()
            now = time.monotonic()
            self._active_s += now - last
            last = now
            # keep the allowed events a little ahead of the sent ones, then sleep to the pace
            if self.stats.sent_events >= self.rate * self._active_s:
                await asyncio.sleep(min(0.05, (self.stats.sent_events - self.rate * self._active_s) / self.rate))
                continue
            send = self.scenario.next_send(datetime.now(UTC))
            self.stats.sent_events += send.size
            self.stats.replays += send.replay
            await self._queue.put(send)

    async def _worker(self) -> None:
        while True:
            send = await self._queue.get()
            try:
                if send is None:
                    return
                outcomes = await self.client.post(send, give_up_at=time.monotonic() + self.retry_grace_s)
                self._record(send, outcomes)
            finally:
                self._queue.task_done()

    def _record(self, send: Send, outcomes: list[ItemOutcome]) -> None:
        entries = []
        for outcome in outcomes:
            item = outcome.item
            if outcome.status in ("accepted", "duplicate"):
                if not item.valid:
                    self.stats.invalid_accepted += 1
                    continue
                self.stats.acked += 1
                self.stats.duplicates_in_batch += outcome.status == "duplicate"
                entries.append(LedgerEntry(
                    source_key=self.source_key, id=item.id, type=item.type, api=send.api.value,
                    status=outcome.status, order_id=item.order_id,
                    amount=None if item.amount is None else str(item.amount),
                ))
            elif outcome.status == "rejected":
                self.stats.rejected += 1
                if item.valid:
                    self.stats.valid_rejected[outcome.code or "unknown"] += 1
            else:
                self.stats.unacknowledged += 1
        self.ledger.append(entries)
        self.progress(len(outcomes))

    async def _send_poison(self) -> None:
        assert self.produce_poison is not None
        records = poison_records(self.scenario.run, self.poison_count, datetime.now(UTC))
        await self.produce_poison(records)
        self.ledger.append(
            LedgerEntry(source_key=f"source:{POISON_SOURCE}", id=r.id, type="broken", api="broken_producer",
                        status="accepted", expect=Expect.DLQ)
            for r in records
        )
        self.stats.poison += len(records)
