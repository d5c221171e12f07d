"""One chaos run: the dev stack under the simulator, faults on a plan, then drain, a quiet
window for the Prometheus reconciliation, the ledger reconciliation and the rebuild check.

Prometheus counters reset when a process restarts, so over the faulty part of the run they
are only summed per process lifetime (a lower bound, reported). The exact counter check is
made over a quiet window after the faults: a short burst of traffic with no process
restarting, drained, where ingest's accepted must equal the profile consumer's folded plus
dead-lettered, and the facts the outbox published must equal what the metrics consumer handled."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.chaos.adapters.database import StackDatabase
from services.chaos.adapters.devstack import DevStack
from services.chaos.adapters.prometheus import scrape, total
from services.chaos.bootstrap import build_stack, stack_database, stack_env, stack_generator, stack_settings
from services.chaos.domain.counters import WindowDelta
from services.chaos.domain.plan import Fault, fault_plan
from services.chaos.domain.reconcile import FaultCounts, Verdict, figures_line
from services.chaos.service_layer.checks import RebuildCheck, observe, rebuild_matches, verdict_for
from services.chaos.service_layer.drain import wait_drained
from services.chaos.service_layer.faults import FaultInjector
from services.chaos.service_layer.monitor import Monitor, Samples
from services.simulate.bootstrap import close_generator
from services.simulate.service_layer.generator import RunStats
from shared.settings import CommonSettings

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChaosOptions:
    data_dir: Path
    duration_s: float = 30.0
    rate: float = 100.0
    customers: int = 300
    seed: int = 7
    poison: int = 4
    faults: bool = True
    quiet_window_s: float = 3.0
    rebuild: bool = True
    broker_down_s: float = 3.0


@dataclass
class ChaosResult:
    verdict: Verdict
    faults: FaultCounts
    generator: RunStats
    samples: Samples
    window: WindowDelta | None
    window_problems: list[str]
    rebuild: RebuildCheck | None
    fault_events: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        return figures_line(self.verdict, self.faults)

    @property
    def ok(self) -> bool:
        rebuilt = self.rebuild is None or self.rebuild.equal
        return self.verdict.ok and not self.window_problems and rebuilt


async def run_chaos(options: ChaosOptions, *, say: Say = print) -> ChaosResult:
    stack = build_stack(options.data_dir)
    say(f"starting the dev stack in {stack.data_dir}")
    info = await asyncio.to_thread(stack.start)
    try:
        return await _run(stack, info, options, say)
    except BaseException:
        say_log_tails(stack.logs, say)
        raise
    finally:
        await asyncio.to_thread(stack.stop)


def say_log_tails(logs: Path, say: Say, *, lines: int = 8) -> None:
    """The last warnings and errors of each service, to diagnose a failed run."""
    for log in sorted(logs.glob("*.log")):
        notable = [line for line in log.read_text(errors="replace").splitlines()
                   if '"level":"warning"' in line or '"level":"error"' in line]
        for line in notable[-lines:]:
            say(f"{log.stem}: {line[:400]}")



async def _run(stack: DevStack, info: dict[str, object], options: ChaosOptions, say: Say) -> ChaosResult:
    settings = stack_settings(info)
    db = stack_database(info)
    ledger = stack.data_dir / "ledger.jsonl"
    generator = stack_generator(info, ledger=ledger, rate=options.rate, duration_s=options.duration_s,
                                customers=options.customers, seed=options.seed, poison=options.poison,
                                label=f"chaos{options.seed}")
    monitor = Monitor(stack, db, info)
    injector = FaultInjector(stack, db, settings, generator, broker_down_s=options.broker_down_s)
    stop = asyncio.Event()
    monitor_task = asyncio.create_task(monitor.run(stop))
    say(f"sending {options.rate:.0f} events/s for {options.duration_s:.0f}s with faults={options.faults}")
    try:
        generation = asyncio.create_task(generator.run())
        if options.faults:
            await _inject_on_plan(injector, options.duration_s, generation, say)
        stats = await generation
    finally:
        await close_generator(generator)
    say(f"generator done: {stats.acked} acked; draining")
    await wait_drained(db, settings.kafka_bootstrap, settings.topics)
    window, problems = await _quiet_window(stack, db, info, options, ledger, settings)
    stop.set()
    await monitor_task
    observed = await observe(db, settings.kafka_bootstrap, settings.topics, injector.log.saved_dead_letters)
    verdict = await verdict_for(ledger, db, observed)
    rebuild = await rebuild_matches(db, stack_env(info), stack.logs) if options.rebuild else None
    return ChaosResult(verdict, injector.log.summary(), stats, monitor.samples, window, problems, rebuild,
                       injector.log.events)


async def _inject_on_plan(injector: FaultInjector, duration_s: float, generation: "asyncio.Task[RunStats]",
                          say: Say) -> None:
    started = time.monotonic()
    for at, fault in fault_plan(duration_s):
        delay = at - (time.monotonic() - started)
        if delay > 0:
            await asyncio.sleep(delay)
        if generation.done():
            break
        await _inject_and_say(injector, fault, say)
    done = injector.log.counts
    for fault in Fault:  # every kind at least once, even when the run was short
        if not done[fault] and not generation.done():
            await _inject_and_say(injector, fault, say)


async def _inject_and_say(injector: FaultInjector, fault: Fault, say: Say) -> None:
    seen = len(injector.log.events)
    await injector.inject(fault)
    for line in injector.log.events[seen:]:
        say(line)


async def _counters(client: httpx.AsyncClient, info: dict[str, object]) -> tuple[float, ...]:
    ingest = await scrape(client, f"{info['ingest_url']}/metrics")
    profile = await scrape(client, str(info["profile_consumer_metrics_url"]))
    metrics = await scrape(client, str(info["metrics_consumer_metrics_url"]))
    return (
        total(ingest, "touchpoints_accepted_total"),
        total(profile, "touchpoint_consumer_events_total", outcome="folded"),
        total(profile, "touchpoint_consumer_events_total", outcome="dead_lettered"),
        total(profile, "touchpoint_outbox_published_total"),
        total(metrics, "touchpoint_consumer_events_total"),
    )


async def _quiet_window(
    stack: DevStack, db: StackDatabase, info: dict[str, object], options: ChaosOptions, ledger: Path,
    settings: CommonSettings,
) -> tuple[WindowDelta | None, list[str]]:
    if options.quiet_window_s <= 0:
        return None, []
    pids = stack.pids()
    async with httpx.AsyncClient() as client:
        before = await _counters(client, info)
        burst = stack_generator(info, ledger=ledger, rate=options.rate, duration_s=options.quiet_window_s,
                                customers=options.customers, seed=options.seed + 1, label=f"quiet{options.seed}")
        try:
            await burst.run()
        finally:
            await close_generator(burst)
        await wait_drained(db, settings.kafka_bootstrap, settings.topics)
        after = await _counters(client, info)
    window = WindowDelta(*(b - a for a, b in zip(before, after, strict=True)))
    if stack.pids() != pids:
        return window, ["a process restarted during the quiet window; counters not comparable"]
    return window, window.problems()
