"""Rebuild every live profile from its stored touchpoints (profile.timeline).

The identity graph (which events belong to which profile) is kept; each profile's state and
indexed columns are refolded from an empty profile, a batch of profiles per transaction,
with the profile rows locked so a running consumer and the rebuild never interleave on one
profile. Because the fold is order-independent, a rebuild of an intact store changes
nothing; after a change of the lifecycle thresholds it recomputes every stored stage.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.profile.adapters.codec import decode_profile
from services.profile.adapters.graph_store import PostgresGraphStore
from services.profile.domain.fold import fold
from services.profile.domain.lifecycle import LifecycleRules, headline_of
from services.profile.domain.model import Profile
from shared.consumer import is_transient
from shared.events import Touchpoint


@dataclass(frozen=True)
class RebuildReport:
    profiles: int
    events: int
    changed: int
    without_events: int


@dataclass
class _Tally:
    profiles: int = 0
    events: int = 0
    changed: int = 0
    without_events: int = 0


async def count_live_profiles(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT count(*) FROM profile.profiles WHERE merged_into IS NULL"))
        return int(result.scalar() or 0)


async def rebuild_profiles(
    engine: AsyncEngine,
    rules: LifecycleRules,
    *,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    tally = _Tally()
    after: UUID | None = None
    while True:
        delay = 0.1
        while True:
            try:
                async with engine.begin() as conn:
                    last = await _rebuild_batch(conn, rules, after=after, size=batch_size, tally=tally)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if last is None:
            break
        after = last
        if progress is not None:
            progress(tally.profiles)
    return RebuildReport(tally.profiles, tally.events, tally.changed, tally.without_events)


async def _rebuild_batch(
    conn: AsyncConnection, rules: LifecycleRules, *, after: UUID | None, size: int, tally: _Tally
) -> UUID | None:
    rows = (
        await conn.execute(
            text(
                "SELECT id, state::text AS state FROM profile.profiles WHERE merged_into IS NULL "
                "AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid)) ORDER BY id LIMIT :n FOR UPDATE"
            ),
            {"after": after, "n": size},
        )
    ).all()
    if not rows:
        return None
    stored = {row.id: decode_profile(row.state) for row in rows}
    events: dict[UUID, list[Touchpoint]] = {pid: [] for pid in stored}
    timeline = await conn.execute(
        text(
            "SELECT profile_id, touchpoint::text AS touchpoint FROM profile.timeline "
            "WHERE profile_id = ANY(CAST(:ids AS uuid[])) ORDER BY profile_id, occurred_at, event_key"
        ),
        {"ids": list(stored)},
    )
    for row in timeline:
        events[row.profile_id].append(Touchpoint.from_json(row.touchpoint))
    rebuilt: dict[UUID, Profile] = {}
    for pid, history in events.items():
        if not history:
            tally.without_events += 1
            continue
        profile = fold(history)
        tally.events += len(history)
        if profile != stored[pid]:
            tally.changed += 1
        rebuilt[pid] = profile
    tally.profiles += len(rows)
    if rebuilt:
        await PostgresGraphStore(conn).write_profiles(
            rebuilt, {pid: headline_of(p, rules) for pid, p in rebuilt.items()}, {}
        )
    return UUID(str(rows[-1].id))
