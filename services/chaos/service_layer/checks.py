"""After the run: gather what the stack holds and reconcile it with the ledger."""

import asyncio
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.chaos.adapters.database import StackDatabase
from services.chaos.adapters.kafka_log import read_dead_letters
from services.chaos.domain.reconcile import Observed, Verdict, reconcile
from services.simulate.adapters.ledger_file import read_ledger
from shared.topics import Topics


@dataclass(frozen=True)
class RebuildCheck:
    ran: bool
    equal: bool
    detail: str


async def observe(db: StackDatabase, bootstrap: str, topics: Topics, saved_dead_letters: Counter[str]) -> Observed:
    dead = Counter(saved_dead_letters)
    for topic in (topics.touchpoints_dlq, topics.customers_dlq):
        dead.update(await read_dead_letters(bootstrap, topic))
    return Observed(
        folded_keys=await db.folded_keys(),
        dead_keys=dead,
        timeline_repeats=await db.timeline_repeats(),
        timeline=await db.timeline_totals(),
        profiles=await db.profile_totals(),
        metrics=await db.metrics_totals(),
    )


async def verdict_for(ledger: Path, db: StackDatabase, observed: Observed) -> Verdict:
    return reconcile(read_ledger(ledger), await db.sources(), observed)


async def rebuild_matches(db: StackDatabase, env: dict[str, str], logs: Path) -> RebuildCheck:
    """`touchpoint profile rebuild` from the stored timeline must give the same profiles."""
    before = await db.profile_snapshot()
    with (logs / "rebuild.log").open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "profile", "rebuild", env={**os.environ, **env},
            stdout=out, stderr=subprocess.STDOUT,
        )
        code = await asyncio.wait_for(process.wait(), 300)
    if code != 0:
        return RebuildCheck(False, False, f"`touchpoint profile rebuild` exited {code}; see {logs / 'rebuild.log'}")
    after = await db.profile_snapshot()
    if before == after:
        return RebuildCheck(True, True, f"{sum(after.values())} profiles identical after rebuild")
    missing, extra = before - after, after - before
    return RebuildCheck(True, False, f"{sum(missing.values())} profiles differ after rebuild "
                                     f"(e.g. {next(iter(missing), '')[:300]!r} vs {next(iter(extra), '')[:300]!r})")
