"""Read side of the profile API: one round trip per request where it can be."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.profile.adapters.codec import decode_profile
from services.profile.domain.identity import IdentityPair
from services.profile.domain.model import Profile


@dataclass(frozen=True)
class StoredProfile:
    id: UUID
    profile: Profile
    identities: list[IdentityPair]
    merges: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    event_key: str
    touchpoint: dict[str, Any]


@dataclass(frozen=True)
class ListedProfile:
    id: UUID
    profile: Profile


_MERGES = (
    "SELECT coalesce(json_agg(json_build_object('survivor_id', m.survivor_id, 'merged_id', m.merged_id, "
    "'reason', m.reason, 'event_key', m.event_key, 'occurred_at', m.occurred_at, 'merged_at', m.merged_at) "
    "ORDER BY m.id), '[]')::text FROM profile.merges m WHERE m.survivor_id = p.id OR m.survivor_id IN "
    "(SELECT a.id FROM profile.profiles a WHERE a.merged_into = p.id)"
)
_IDENTITIES = (
    "SELECT coalesce(json_agg(json_build_array(i.kind, i.value) ORDER BY i.kind, i.value), '[]')::text "
    "FROM profile.identities i WHERE i.profile_id = p.id"
)
_CONFLICTS = (
    "SELECT coalesce(json_agg(json_build_object('kind', c.kind, 'value', c.value, 'held_by', c.held_by, "
    "'event_profile_id', c.event_profile_id, 'event_key', c.event_key, 'occurred_at', c.occurred_at, "
    "'detected_at', c.detected_at) ORDER BY c.id), '[]')::text FROM profile.identity_conflicts c "
    "WHERE c.held_by = p.id OR c.event_profile_id = p.id"
)
_PROFILE = text(
    f"SELECT p.id, p.state::text AS state, ({_IDENTITIES}) AS identities, ({_MERGES}) AS merges, "
    f"({_CONFLICTS}) AS conflicts FROM profile.profiles p "
    "WHERE p.id = (SELECT coalesce(r.merged_into, r.id) FROM profile.profiles r WHERE r.id = :id)"
)
_BY_IDENTITY = text(
    f"SELECT p.id, p.state::text AS state, ({_IDENTITIES}) AS identities, ({_MERGES}) AS merges, "
    f"({_CONFLICTS}) AS conflicts FROM profile.profiles p "
    "WHERE p.id = (SELECT i.profile_id FROM profile.identities i WHERE i.kind = :kind AND i.value = :value)"
)


def _stored(row: Any) -> StoredProfile:
    return StoredProfile(
        id=row.id,
        profile=decode_profile(row.state),
        identities=[(k, v) for k, v in orjson.loads(row.identities)],
        merges=orjson.loads(row.merges),
        conflicts=orjson.loads(row.conflicts),
    )


async def profile_by_id(conn: AsyncConnection, profile_id: UUID) -> StoredProfile | None:
    """The live profile `profile_id` is or was merged into."""
    row = (await conn.execute(_PROFILE, {"id": profile_id})).first()
    return None if row is None or row.state is None else _stored(row)


async def profile_by_identity(conn: AsyncConnection, pair: IdentityPair) -> StoredProfile | None:
    row = (await conn.execute(_BY_IDENTITY, {"kind": pair[0], "value": pair[1]})).first()
    return None if row is None or row.state is None else _stored(row)


async def live_id(conn: AsyncConnection, profile_id: UUID) -> UUID | None:
    row = (
        await conn.execute(
            text("SELECT coalesce(merged_into, id) AS id FROM profile.profiles WHERE id = :id"), {"id": profile_id}
        )
    ).first()
    return None if row is None else UUID(str(row.id))


async def timeline(
    conn: AsyncConnection, profile_id: UUID, *, limit: int | None, before: tuple[datetime, str] | None
) -> list[TimelineEntry]:
    """Newest first; `before` is the (occurred_at, event_key) of the last entry already seen."""
    where = "profile_id = :id"
    params: dict[str, Any] = {"id": profile_id, "limit": limit}
    if before is not None:
        where += " AND (occurred_at, event_key) < (:at, :key)"
        params.update(at=before[0], key=before[1])
    rows = await conn.execute(
        text(
            f"SELECT occurred_at, event_key, touchpoint::text AS touchpoint FROM profile.timeline WHERE {where} "
            "ORDER BY occurred_at DESC, event_key DESC LIMIT :limit"
        ),
        params,
    )
    return [TimelineEntry(r.occurred_at, r.event_key, orjson.loads(r.touchpoint)) for r in rows]


@dataclass(frozen=True)
class ListFilter:
    stage: str | None = None
    segment: str | None = None
    at_risk: bool | None = None
    churned: bool | None = None


async def list_profiles(
    conn: AsyncConnection,
    flt: ListFilter,
    *,
    risk_before: datetime,
    churn_before: datetime,
    limit: int,
    after: UUID | None,
) -> list[ListedProfile]:
    """Live profiles in id order; at_risk/churned evaluated against the given cut-offs."""
    clauses = ["merged_into IS NULL"]
    params: dict[str, Any] = {"limit": limit}
    churned_sql = "(explicitly_churned OR coalesce(last_purchase_at < :churn_before, false))"
    at_risk_sql = f"(NOT {churned_sql} AND coalesce(last_purchase_at < :risk_before, false))"
    if flt.stage is not None:
        clauses.append("stage = :stage")
        params["stage"] = flt.stage
    if flt.segment is not None:
        clauses.append("segment = :segment")
        params["segment"] = flt.segment
    if flt.churned is not None:
        clauses.append(churned_sql if flt.churned else f"NOT {churned_sql}")
        params["churn_before"] = churn_before
    if flt.at_risk is not None:
        clauses.append(at_risk_sql if flt.at_risk else f"NOT {at_risk_sql}")
        params.update(churn_before=churn_before, risk_before=risk_before)
    if after is not None:
        clauses.append("id > :after")
        params["after"] = after
    rows = await conn.execute(
        text(
            f"SELECT id, state::text AS state FROM profile.profiles WHERE {' AND '.join(clauses)} "
            "ORDER BY id LIMIT :limit"
        ),
        params,
    )
    return [ListedProfile(r.id, decode_profile(r.state)) for r in rows]


async def ping(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT 1"))

