"""`touchpoint chaos` (`make chaos`) and `touchpoint chaos --soak` (`make soak`).

The run itself is imported when the command runs: it needs the embedded dev stack, which the
production image does not ship."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.chaos.service_layer.chaos_run import ChaosResult


def say(line: str) -> None:
    print(line, flush=True)


def report_chaos(result: ChaosResult) -> None:
    v, g = result.verdict, result.generator
    say(f"generator: sent={g.sent_events} acked={g.acked} in_batch_duplicates={g.duplicates_in_batch} "
        f"replays={g.replays} rejected={g.rejected} unacknowledged={g.unacknowledged} poison={g.poison}")
    statuses = " ".join(f"{code}={n}" for code, n in sorted(g.http_statuses.items()))
    say(f"http answers: {statuses}; connection errors={g.connection_errors}")
    say(f"dead letters: {v.dlq} distinct ({v.dlq_redelivered} redelivered copies); "
        f"broken records missing from the DLQ: {v.expected_dlq_missing}")
    if v.lost_examples:
        say("lost, e.g.: " + ", ".join(v.lost_examples))
    for mismatch in v.mismatches:
        say(f"MISMATCH {mismatch}")
    for note in v.notes:
        say(f"note: {note}")
    s = result.samples
    say(f"counters summed over process lifetimes (lower bounds): accepted={s.accepted.total:.0f} "
        f"({s.accepted.lifetimes} ingest lifetimes) folded={s.folded.total:.0f} "
        f"dead_lettered={s.dead_lettered.total:.0f} ({s.folded.lifetimes} profile consumer lifetimes)")
    if result.window is not None:
        w = result.window
        verdict = "; ".join(result.window_problems) or "reconciled"
        say(f"quiet window: accepted={w.accepted:.0f} folded={w.folded:.0f} dlq={w.dead_lettered:.0f} "
            f"facts_published={w.facts_published:.0f} facts_handled={w.facts_handled:.0f}: {verdict}")
    if result.rebuild is not None:
        say(f"rebuild: {result.rebuild.detail}")
    lag = s.lag_max
    say(f"lag max: profile={lag.profile} metrics={lag.metrics}")
    say(result.line)


def _chaos(args: argparse.Namespace) -> int:
    from services.chaos.service_layer.chaos_run import ChaosOptions, run_chaos
    from services.chaos.service_layer.soak import SoakOptions, run_soak

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker is down on purpose
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="touchpoint-chaos-"))
    try:
        if args.soak:
            soak = asyncio.run(run_soak(SoakOptions(data_dir=data_dir, duration_s=args.duration or 600.0,
                                                    seed=args.seed), say=say))
            for line in soak.lines():
                say(line)
            return 0 if soak.verdict.ok else 1
        options = ChaosOptions(
            data_dir=data_dir, duration_s=args.duration or 30.0, rate=args.rate, customers=args.customers,
            seed=args.seed, faults=not args.no_faults, rebuild=not args.no_rebuild,
        )
        result = asyncio.run(run_chaos(options, say=say))
        report_chaos(result)
        return 0 if result.ok else 1
    finally:
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=None, help="seconds of traffic (chaos 30, soak 600)")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (chaos)")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--soak", action="store_true", help="ramp to the max rate, then soak at half of it")
    parser.add_argument("--no-faults", action="store_true", help="the same run without injecting faults")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the `profile rebuild` comparison")
    parser.add_argument("--data-dir", default=None, help="keep the stack's data here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir (logs, ledger)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chaos", help="the dev stack under load while faults are injected, then reconciled")
    add_arguments(parser)
    parser.set_defaults(func=_chaos)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="touchpoint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["chaos", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
