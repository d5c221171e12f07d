"""Sampling the running stack every few seconds: counters (across restarts), consumer lag
(stored offsets in Postgres against the log ends) and each service's RSS."""

import asyncio
import logging
import time
from dataclasses import dataclass, field

import httpx
import psutil

from services.chaos.adapters.database import StackDatabase
from services.chaos.adapters.devstack import DevStack
from services.chaos.adapters.kafka_log import log_ends
from services.chaos.adapters.prometheus import scrape, total
from services.chaos.domain.counters import LifetimeCounter
from shared.topics import Topics

log = logging.getLogger(__name__)

SERVICES = ("ingest", "profile-api", "profile-consumer", "metrics-api", "metrics-consumer")


@dataclass(frozen=True)
class Lag:
    profile: int
    metrics: int


async def measure_lag(db: StackDatabase, bootstrap: str, topics: Topics) -> Lag:
    ends = await log_ends(bootstrap, [topics.touchpoints, topics.customers])
    profile_offsets = await db.stored_offsets("profile")
    metrics_offsets = await db.stored_offsets("metrics")

    def behind(topic: str, stored: dict[tuple[str, int], int]) -> int:
        return sum(max(0, end - stored.get((t, p), 0)) for (t, p), end in ends.items() if t == topic)

    return Lag(behind(topics.touchpoints, profile_offsets), behind(topics.customers, metrics_offsets))


@dataclass
class Samples:
    accepted: LifetimeCounter = field(default_factory=LifetimeCounter)
    folded: LifetimeCounter = field(default_factory=LifetimeCounter)
    dead_lettered: LifetimeCounter = field(default_factory=LifetimeCounter)
    lag: list[tuple[float, Lag]] = field(default_factory=list)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    @property
    def lag_max(self) -> Lag:
        return Lag(max((lag.profile for _, lag in self.lag), default=0),
                   max((lag.metrics for _, lag in self.lag), default=0))


class Monitor:
    def __init__(self, stack: DevStack, db: StackDatabase, info: dict[str, object], *, interval_s: float = 2.0) -> None:
        self.stack, self.db, self.info, self.interval_s = stack, db, info, interval_s
        self.samples = Samples()
        self.started = time.monotonic()
        self.topics = Topics.with_prefix("")

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                await self.sample(client)
                try:
                    await asyncio.wait_for(stop.wait(), self.interval_s)
                except TimeoutError:
                    pass

    async def sample(self, client: httpx.AsyncClient) -> None:
        at = time.monotonic() - self.started
        pids = self.stack.pids()
        await self._scrape_counters(client, pids)
        for name, pid in pids.items():
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                continue
            self.samples.rss.setdefault(name, []).append((at, rss))
        try:
            lag = await asyncio.wait_for(measure_lag(self.db, str(self.info["kafka_bootstrap"]), self.topics), 10)
        except Exception as exc:  # the broker or Postgres may be down on purpose
            log.debug("lag not measured: %s", type(exc).__name__)
        else:
            self.samples.lag.append((at, lag))

    async def _scrape_counters(self, client: httpx.AsyncClient, pids: dict[str, int]) -> None:
        ingest = await scrape(client, f"{self.info['ingest_url']}/metrics")
        if ingest and "ingest" in pids:
            self.samples.accepted.observe(pids["ingest"], total(ingest, "touchpoints_accepted_total"))
        consumer = await scrape(client, str(self.info["profile_consumer_metrics_url"]))
        if consumer and "profile-consumer" in pids:
            pid = pids["profile-consumer"]
            self.samples.folded.observe(pid, total(consumer, "touchpoint_consumer_events_total", outcome="folded"))
            self.samples.dead_lettered.observe(
                pid, total(consumer, "touchpoint_consumer_events_total", outcome="dead_lettered")
            )
