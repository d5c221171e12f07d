"""`touchpoint simulate`: a seeded workload through the public APIs, with a ledger."""

import argparse
import asyncio
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.simulate.bootstrap import build_generator, close_generator
from services.simulate.config import DEFAULT_STACK_FILE, NotLoopback, SimulateOptions, read_stack_file
from services.simulate.service_layer.generator import RunStats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--customers", type=int, default=1000, help="size of the simulated population")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run", default=None, help="prefix of every generated id (default s<seed>)")
    parser.add_argument("--stack-file", type=Path, default=DEFAULT_STACK_FILE, help="written by `touchpoint dev`")
    parser.add_argument("--ingest-url", default=None, help="default: ingest_url of the stack file")
    parser.add_argument("--write-key", default=None, help="default: write_key of the stack file")
    parser.add_argument("--ledger", type=Path, default=None, help="default: <stack dir>/ledger-<run>.jsonl")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--poison", type=int, default=4,
                        help="raw broken records written straight to the topic (needs the stack's kafka_bootstrap)")


def options_from(args: argparse.Namespace) -> SimulateOptions:
    stack = read_stack_file(args.stack_file)
    ingest_url = args.ingest_url or stack.get("ingest_url")
    write_key = args.write_key or stack.get("write_key")
    if not ingest_url or not write_key:
        raise SystemExit(f"no ingest url / write key: pass --ingest-url and --write-key or run `touchpoint dev` "
                         f"(reads {args.stack_file})")
    run = args.run or f"s{args.seed}"
    ledger = args.ledger or args.stack_file.parent / f"ledger-{run}.jsonl"
    kafka = stack.get("kafka_bootstrap")
    return SimulateOptions(
        ingest_url=str(ingest_url), write_key=str(write_key), ledger_path=ledger, rate=args.rate,
        duration_s=args.duration, customers=args.customers, seed=args.seed, concurrency=args.concurrency,
        poison=args.poison, run=run, kafka_bootstrap=str(kafka) if kafka else None,
    )


def summary_line(stats: RunStats) -> str:
    unexpected = sum(stats.valid_rejected.values())
    return (
        f"sent={stats.sent_events} acked={stats.acked} in_batch_duplicates={stats.duplicates_in_batch} "
        f"rejected={stats.rejected} (valid_rejected={unexpected}, invalid_accepted={stats.invalid_accepted}) "
        f"unacknowledged={stats.unacknowledged} replays={stats.replays} poison={stats.poison} "
        f"rate={stats.sent_events / max(stats.elapsed_s, 1e-9):.0f}/s"
    )


async def simulate(options: SimulateOptions, *, show_progress: bool = True) -> RunStats:
    expected = int(options.rate * options.duration_s)
    with Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not show_progress) as bar:
        task = bar.add_task("events", total=expected)
        generator = build_generator(options, progress=lambda n: bar.advance(task, n))
        try:
            stats = await generator.run()
        finally:
            await close_generator(generator)
    return stats


def _simulate(args: argparse.Namespace) -> int:
    try:
        options = options_from(args)
        started = time.monotonic()
        stats = asyncio.run(simulate(options, show_progress=sys.stderr.isatty()))
    except NotLoopback as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary_line(stats))
    print(f"ledger {options.ledger_path} ({time.monotonic() - started:.1f}s)")
    bad = stats.invalid_accepted + sum(stats.valid_rejected.values())
    return 1 if bad else 0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("simulate", help="send a seeded, realistic workload through the public APIs")
    add_arguments(parser)
    parser.set_defaults(func=_simulate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="touchpoint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
