"""Injecting one fault into the running dev stack.

Kills are SIGKILLs of the service processes named in stack.json (the supervisor restarts
them; we wait until it has). Postgres is stopped in immediate mode (no checkpoint, as a
crash) and started again. The broker is memory-only, so its restart loses the log: before
stopping it the generator is paused and both consumers drained, the dead-letter topic is
read (its records would be lost with the log). While the broker is down the generator runs
and gets 503s (retrying with the same ids). The broker auto-creates a topic that a client
asks for, with its own default partition count; so that the topics come back as configured,
the service processes are frozen (SIGSTOP) while the broker starts and the topics are
created, then thawed (SIGCONT). The generator stays paused until both consumers have rewound
to the new, empty log; only then is new traffic let through."""

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from services.chaos.adapters.database import StackDatabase
from services.chaos.adapters.devstack import DevStack
from services.chaos.adapters.kafka_log import read_dead_letters
from services.chaos.domain.plan import Fault
from services.chaos.domain.reconcile import FaultCounts
from services.chaos.service_layer.drain import wait_drained, wait_rewound
from services.simulate.service_layer.generator import Generator
from shared.kafka import ensure_topics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

CHILD = {Fault.KILL_PROFILE: "profile-consumer", Fault.KILL_METRICS: "metrics-consumer", Fault.KILL_INGEST: "ingest"}


@dataclass
class FaultLog:
    counts: Counter[Fault] = field(default_factory=Counter)
    saved_dead_letters: Counter[str] = field(default_factory=Counter)
    events: list[str] = field(default_factory=list)

    def summary(self) -> FaultCounts:
        c = self.counts
        return FaultCounts(c[Fault.KILL_PROFILE], c[Fault.KILL_METRICS], c[Fault.KILL_INGEST],
                           c[Fault.RESTART_BROKER], c[Fault.RESTART_POSTGRES])


class FaultInjector:
    def __init__(self, stack: DevStack, db: StackDatabase, settings: CommonSettings, generator: Generator,
                 *, broker_down_s: float = 3.0) -> None:
        self.stack, self.db, self.settings, self.generator = stack, db, settings, generator
        self.broker_down_s = broker_down_s
        self.log = FaultLog()
        self.started = time.monotonic()

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s {time.strftime('%H:%M:%S')}] {text}"
        self.log.events.append(line)
        log.info(line)

    async def inject(self, fault: Fault) -> None:
        if fault in CHILD:
            await self._kill(CHILD[fault])
        elif fault is Fault.RESTART_POSTGRES:
            await asyncio.to_thread(self.stack.restart_postgres)
            self.note("postgres stopped (immediate) and started")
        else:
            await self._restart_broker()
        self.log.counts[fault] += 1

    async def _kill(self, name: str) -> None:
        pid = self.stack.kill_child(name)
        new_pid = await asyncio.to_thread(self.stack.wait_restarted, name, pid)
        self.note(f"SIGKILL {name} (pid {pid}); restarted as {new_pid}")

    async def _restart_broker(self) -> None:
        topics = self.settings.topics
        bootstrap = self.settings.kafka_bootstrap
        await self.generator.pause()
        took = await wait_drained(self.db, bootstrap, topics)
        for topic in (topics.touchpoints_dlq, topics.customers_dlq):
            self.log.saved_dead_letters.update(await read_dead_letters(bootstrap, topic))
        self.note(f"generator paused, drained in {took:.1f}s, dead letters saved; stopping the broker")
        await asyncio.to_thread(self.stack.stop_broker)
        self.generator.resume()  # requests now get 503 and are retried with the same ids
        refused = await self._outage_until_refused()
        self.generator.pause_generation()
        frozen = self.stack.freeze()
        try:
            await asyncio.to_thread(self.stack.start_broker)
            await ensure_topics(self.settings)
        finally:
            self.stack.thaw(frozen)
        rewound = await wait_rewound(self.db, bootstrap, topics)
        self.generator.resume()
        self.note(f"broker restarted (empty log) after {refused} answers 503; consumers rewound in {rewound:.1f}s; "
                  "generator resumed")

    async def _outage_until_refused(self, *, longest_s: float = 30.0) -> int:
        """Keep the broker down for broker_down_s, and longer until ingest has answered a 503."""
        statuses = self.generator.client.stats.statuses
        before = statuses[503]
        started = time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
            if elapsed >= self.broker_down_s and (statuses[503] > before or elapsed >= longest_s):
                return statuses[503] - before
