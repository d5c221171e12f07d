"""Erase a person: the profile and every profile merged into it, their identities, timeline,
merges and conflicts. An ERASED fact (customers.v1) and one suppression per identity
fingerprint (suppressions.v1) leave through the outbox in the same transaction, so ingest
learns to reject the person's new events. processed_events keeps only dedup keys."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.profile.adapters.graph_store import add_outbox
from services.profile.adapters.messages import fact_message, suppression_message
from services.profile.domain.facts import erased_fact
from shared.suppression import Suppression, fingerprint
from shared.topics import Topics


@dataclass(frozen=True)
class Erasure:
    profile_id: UUID
    profiles: int
    identities: int
    timeline: int
    suppressions: int


async def erase_profile(engine: AsyncEngine, profile_id: UUID, *, topics: Topics, now: datetime) -> Erasure | None:
    """Erase the person behind `profile_id` (a merged-away id erases its survivor); None if unknown."""
    async with engine.begin() as conn:
        live = (
            await conn.execute(
                text(
                    "SELECT p.id FROM profile.profiles p WHERE p.id = (SELECT coalesce(r.merged_into, r.id) "
                    "FROM profile.profiles r WHERE r.id = :id) AND p.merged_into IS NULL FOR UPDATE"
                ),
                {"id": profile_id},
            )
        ).scalar()
        if live is None:
            return None
        absorbed = await conn.execute(text("SELECT id FROM profile.profiles WHERE merged_into = :id"), {"id": live})
        ids = [live, *absorbed.scalars()]
        pairs = (
            await conn.execute(
                text("DELETE FROM profile.identities WHERE profile_id = :id RETURNING kind, value"), {"id": live}
            )
        ).all()
        timeline = await conn.execute(text("DELETE FROM profile.timeline WHERE profile_id = :id"), {"id": live})
        params = {"ids": ids}
        await conn.execute(
            text(
                "DELETE FROM profile.merges WHERE survivor_id = ANY(CAST(:ids AS uuid[])) "
                "OR merged_id = ANY(CAST(:ids AS uuid[]))"
            ),
            params,
        )
        await conn.execute(
            text(
                "DELETE FROM profile.identity_conflicts WHERE held_by = ANY(CAST(:ids AS uuid[])) "
                "OR event_profile_id = ANY(CAST(:ids AS uuid[]))"
            ),
            params,
        )
        await conn.execute(text("DELETE FROM profile.profiles WHERE id = ANY(CAST(:ids AS uuid[]))"), params)
        prints = sorted({fp for kind, value in pairs if (fp := fingerprint(kind, value)) is not None})
        suppressions = [Suppression(fingerprint=fp, erased_profile_id=str(live)) for fp in prints]
        messages = [
            fact_message(erased_fact(live, now), topic=topics.customers),
            *(suppression_message(s, topic=topics.suppressions, at=now) for s in suppressions),
        ]
        await add_outbox(conn, messages)
    return Erasure(
        profile_id=live,
        profiles=len(ids),
        identities=len(pairs),
        timeline=int(timeline.rowcount),  # type: ignore[attr-defined]
        suppressions=len(prints),
    )
