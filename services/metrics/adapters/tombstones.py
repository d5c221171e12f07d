"""Merged and erased profiles (metrics.merged_profiles, metrics.erased_profiles)."""

from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain.batch import Erased, Merged, TombstoneChange, Tombstones


async def load_tombstones(conn: AsyncConnection, ids: Collection[UUID]) -> Tombstones:
    if not ids:
        return Tombstones()
    rows = await conn.execute(
        text(
            "SELECT merged_profile_id AS profile_id, survivor_id FROM metrics.merged_profiles "
            "WHERE merged_profile_id = ANY(:ids) UNION ALL "
            "SELECT profile_id, NULL FROM metrics.erased_profiles WHERE profile_id = ANY(:ids)"
        ),
        {"ids": list(ids)},
    )
    merged_into: dict[UUID, UUID] = {}
    erased: set[UUID] = set()
    for row in rows:
        if row.survivor_id is None:
            erased.add(row.profile_id)
        else:
            merged_into[row.profile_id] = row.survivor_id
    return Tombstones(merged_into=merged_into, erased=frozenset(erased))


async def save_tombstones(conn: AsyncConnection, changes: Sequence[TombstoneChange]) -> None:
    """Apply merges and erasures in order; rows not loaded (older merges into the same profile) follow."""
    for change in changes:
        if isinstance(change, Merged):
            params = {"m": change.merged_profile_id, "s": change.survivor_id}
            await conn.execute(
                text("UPDATE metrics.merged_profiles SET survivor_id = :s WHERE survivor_id = :m"), params
            )
            await conn.execute(
                text(
                    "INSERT INTO metrics.merged_profiles (merged_profile_id, survivor_id) VALUES (:m, :s) "
                    "ON CONFLICT (merged_profile_id) DO UPDATE SET survivor_id = EXCLUDED.survivor_id"
                ),
                params,
            )
        elif isinstance(change, Erased):
            params = {"p": change.profile_id}
            await conn.execute(
                text(
                    "WITH gone AS (DELETE FROM metrics.merged_profiles WHERE survivor_id = :p "
                    "RETURNING merged_profile_id) INSERT INTO metrics.erased_profiles (profile_id) "
                    "SELECT merged_profile_id FROM gone UNION SELECT CAST(:p AS uuid) ON CONFLICT DO NOTHING"
                ),
                params,
            )
