"""Advisory locks of the metrics service.

- profile locks (transaction-scoped, exclusive): a batch locks every profile it touches in a
  fixed order, so a merge folded on one partition and a late fact about the merged profile on
  another cannot interleave;
- the model lock (transaction-scoped): a fold holds it shared, a refit or a rebuild exclusive
  while it rewrites predictions and aggregates, so no fold sees half a rewrite;
- the refit lock (session-scoped, try-only): one refit at a time across API replicas.
"""

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_PROFILES = 0x4D455431  # 'MET1': namespace of the two-key advisory locks on profiles
_SERVICE = 0x4D455432  # 'MET2': namespace of the service-wide locks
_MODEL, _REFIT = 1, 2


def profile_lock_key(profile_id: UUID) -> int:
    return int.from_bytes(profile_id.bytes[:4], "big", signed=True)


async def lock_profiles(conn: AsyncConnection, ids: Collection[UUID]) -> None:
    keys = sorted({profile_lock_key(pid) for pid in ids})
    if keys:
        await conn.execute(
            text("SELECT count(pg_advisory_xact_lock(:ns, k)) FROM unnest(CAST(:keys AS int[])) AS k"),
            {"ns": _PROFILES, "keys": keys},
        )


async def share_model(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_advisory_xact_lock_shared(:ns, :k)"), {"ns": _SERVICE, "k": _MODEL})


async def own_model(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"), {"ns": _SERVICE, "k": _MODEL})


async def try_refit_lock(conn: AsyncConnection) -> bool:
    row = await conn.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), {"ns": _SERVICE, "k": _REFIT})
    return bool(row.scalar_one())


async def release_refit_lock(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": _SERVICE, "k": _REFIT})
