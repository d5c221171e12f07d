"""The soak: find the highest rate the stack sustains (a short ramp), then run at half of
it for a long time without faults, sampling consumer lag and every service's RSS.

A step of the ramp is sustained when the generator reached at least 90% of the asked rate
and both consumers drained within a quarter of the step's length after it ended."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.chaos.bootstrap import StackInfo, build_stack, stack_database, stack_generator, stack_settings
from services.chaos.domain.reconcile import FaultCounts, Verdict
from services.chaos.service_layer.chaos_run import Say
from services.chaos.service_layer.checks import observe, verdict_for
from services.chaos.service_layer.drain import wait_drained
from services.chaos.service_layer.monitor import Monitor, Samples
from services.simulate.bootstrap import close_generator
from services.simulate.service_layer.generator import RunStats


@dataclass(frozen=True)
class SoakOptions:
    data_dir: Path
    duration_s: float = 600.0
    ramp_step_s: float = 8.0
    ramp_start: float = 100.0
    ramp_max: float = 6400.0
    customers: int = 2000
    seed: int = 11
    sample_every_s: float = 5.0


@dataclass
class SoakResult:
    max_rate: float
    soak_rate: float
    ramp: list[tuple[float, float, float]]  # asked, achieved, drain seconds
    stats: RunStats
    samples: Samples
    verdict: Verdict

    def lines(self) -> list[str]:
        achieved = self.stats.sent_events / max(self.stats.elapsed_s, 1e-9)
        out = [f"max sustainable rate {self.max_rate:.0f} events/s; soak asked {self.soak_rate:.0f} events/s, "
               f"achieved {achieved:.0f} events/s for {self.stats.elapsed_s:.0f}s ({self.stats.acked} acked)"]
        lag = self.samples.lag_max
        out.append(f"lag max: profile={lag.profile} metrics={lag.metrics} (records, {len(self.samples.lag)} samples)")
        for name, points in sorted(self.samples.rss.items()):
            if points:
                start, end = points[0][1], points[-1][1]
                peak = max(rss for _, rss in points)
                out.append(f"rss {name}: start={start / 2**20:.0f} MB end={end / 2**20:.0f} MB "
                           f"peak={peak / 2**20:.0f} MB ({(end - start) / max(start, 1):+.0%})")
        out.append(f"acked={self.verdict.acked} lost={self.verdict.lost} duplicated={self.verdict.duplicated} "
                   f"dlq={self.verdict.dlq} faults={FaultCounts().total}")
        return out


async def _step(info: StackInfo, ledger: Path, rate: float, duration_s: float, customers: int,
                seed: int, label: str) -> RunStats:
    generator = stack_generator(info, ledger=ledger, rate=rate, duration_s=duration_s, customers=customers,
                                seed=seed, label=label, concurrency=8)
    try:
        return await generator.run()
    finally:
        await close_generator(generator)


async def run_soak(options: SoakOptions, *, say: Say = print) -> SoakResult:
    stack = build_stack(options.data_dir)
    say(f"starting the dev stack in {stack.data_dir}")
    info = await asyncio.to_thread(stack.start)
    try:
        settings = stack_settings(info)
        db = stack_database(info)
        ledger = stack.data_dir / "ledger.jsonl"
        ramp: list[tuple[float, float, float]] = []
        best, rate = 0.0, options.ramp_start
        while rate <= options.ramp_max:
            stats = await _step(info, ledger, rate, options.ramp_step_s, options.customers, options.seed,
                                f"ramp{int(rate)}")
            achieved = stats.sent_events / max(stats.elapsed_s, 1e-9)
            started = time.monotonic()
            await wait_drained(db, settings.kafka_bootstrap, settings.topics, timeout_s=600)
            drain_s = time.monotonic() - started
            ramp.append((rate, achieved, drain_s))
            say(f"ramp: asked {rate:.0f}/s achieved {achieved:.0f}/s, drained in {drain_s:.1f}s")
            if achieved < 0.9 * rate or drain_s > max(3.0, options.ramp_step_s / 4):
                break
            best = rate
            rate *= 2
        soak_rate = max(best, options.ramp_start) / 2
        monitor = Monitor(stack, db, info, interval_s=options.sample_every_s)
        stop = asyncio.Event()
        watcher = asyncio.create_task(monitor.run(stop))
        say(f"soak: {soak_rate:.0f} events/s for {options.duration_s:.0f}s")
        stats = await _step(info, ledger, soak_rate, options.duration_s, options.customers, options.seed + 1,
                            "soak")
        await wait_drained(db, settings.kafka_bootstrap, settings.topics, timeout_s=600)
        stop.set()
        await watcher
        observed = await observe(db, settings.kafka_bootstrap, settings.topics, Counter())
        verdict = await verdict_for(ledger, db, observed)
        return SoakResult(best, soak_rate, ramp, stats, monitor.samples, verdict)
    finally:
        await asyncio.to_thread(stack.stop)
