"""The identity graph and profiles in Postgres, read and written a batch at a time.

Concurrency protocol (several consumers of one group fold side by side):

1. Every identity pair of the batch is locked with a transaction-level advisory lock, in a
   fixed order (sorted 64-bit hashes). Only a holder of a pair's lock may link that pair to
   a profile, so two consumers never create two profiles for one new identity.
2. The profiles those pairs point to are locked `FOR UPDATE` in sorted id order. A merge
   repoints identities only while holding both profiles' locks, so once every locked row is
   live (not merged away, not erased) the owners read before locking are still the owners:
   `FOR UPDATE` returns the latest committed version of each row, so a merge or an erasure
   that committed meanwhile shows, and no second read is needed. Otherwise the owners are
   read again and the new ones locked too (a deadlock this may cause is retried by the
   consumer loop, SQLSTATE 40P01).
3. All writes are batched: one statement per table, whatever the batch size.

Identities and timeline rows of a merged-away profile are repointed to its survivor, and
earlier redirects to it are shortened, so `merged_into` is always a single hop.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.profile.adapters.codec import decode_profile, encode_profile
from services.profile.adapters.messages import OutboxMessage
from services.profile.domain.fold import utc
from services.profile.domain.identity import IdentityPair
from services.profile.domain.lifecycle import Headline
from services.profile.domain.model import Profile
from services.profile.domain.resolution import BatchOutcome, GraphView
from shared.dedup import claim_new

PROCESSED = "profile.processed_events"
_MAX_ROUNDS = 20


class GraphKeptMoving(RuntimeError):
    """The profiles of a batch kept being merged or erased under it; the batch is retried."""


def pair_lock_key(pair: IdentityPair) -> int:
    digest = hashlib.blake2b(f"{pair[0]}\x1f{pair[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresGraphStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim_new(self, keys: Sequence[str]) -> set[str]:
        return await claim_new(self.conn, PROCESSED, keys)

    async def lock_view(self, pairs: Sequence[IdentityPair]) -> GraphView:
        unique = list(dict.fromkeys(pairs))
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": sorted({pair_lock_key(p) for p in unique})},
        )
        profiles: dict[UUID, Profile] = {}
        for _ in range(_MAX_ROUNDS):
            owners = await self._owners(unique)
            missing = sorted(set(owners.values()) - profiles.keys())
            if not missing:
                return GraphView(owners=owners, profiles=profiles)
            rows = await self.conn.execute(
                text(
                    "SELECT id, merged_into, state::text AS state FROM profile.profiles "
                    "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE"
                ),
                {"ids": missing},
            )
            live = 0
            for row in rows:
                if row.merged_into is None and row.state is not None:
                    profiles[row.id] = decode_profile(row.state)
                    live += 1
            if live == len(missing):
                return GraphView(owners=owners, profiles=profiles)  # all still live: owners unchanged (2.)
        raise GraphKeptMoving("identity owners kept changing while locking")

    async def _owners(self, pairs: Sequence[IdentityPair]) -> dict[IdentityPair, UUID]:
        rows = await self.conn.execute(
            text(
                "SELECT i.kind, i.value, i.profile_id FROM profile.identities i "
                "JOIN unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS p(kind, value) "
                "ON i.kind = p.kind AND i.value = p.value"
            ),
            {"kinds": [p[0] for p in pairs], "values": [p[1] for p in pairs]},
        )
        return {(row.kind, row.value): row.profile_id for row in rows}

    async def save(
        self,
        outcome: BatchOutcome,
        *,
        headlines: Mapping[UUID, Headline],
        documents: Mapping[str, str],
        outbox: Sequence[OutboxMessage],
    ) -> None:
        await self.write_profiles(outcome.profiles, headlines, outcome.merged_into)
        stored_merged = {old: new for old, new in outcome.merged_into.items() if old not in outcome.created}
        if stored_merged:
            await self._repoint(stored_merged)
        if outcome.links:
            pairs = list(outcome.links.items())
            await self.conn.execute(
                text(
                    "INSERT INTO profile.identities (kind, value, profile_id) "
                    "SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[]), CAST(:ids AS uuid[])) "
                    "ON CONFLICT (kind, value) DO UPDATE SET profile_id = EXCLUDED.profile_id"
                ),
                {"kinds": [p[0] for p, _ in pairs], "values": [p[1] for p, _ in pairs], "ids": [i for _, i in pairs]},
            )
        if outcome.placements:
            await self.add_timeline(
                [(p.profile_id, utc(p.event.occurred_at), p.event.dedup_key, p.event.type) for p in outcome.placements],
                documents,
            )
        if outcome.merges:
            m = outcome.merges
            await self.conn.execute(
                text(
                    "INSERT INTO profile.merges (survivor_id, merged_id, reason, event_key, occurred_at) "
                    "SELECT * FROM unnest(CAST(:s AS uuid[]), CAST(:m AS uuid[]), CAST(:r AS text[]), "
                    "CAST(:k AS text[]), CAST(:t AS timestamptz[]))"
                ),
                {
                    "s": [x.survivor for x in m], "m": [x.merged for x in m], "r": [x.reason for x in m],
                    "k": [x.event_key for x in m], "t": [x.occurred_at for x in m],
                },
            )
        if outcome.conflicts:
            c = outcome.conflicts
            await self.conn.execute(
                text(
                    "INSERT INTO profile.identity_conflicts "
                    "(kind, value, held_by, event_profile_id, event_key, occurred_at) "
                    "SELECT * FROM unnest(CAST(:kind AS text[]), CAST(:value AS text[]), CAST(:held AS uuid[]), "
                    "CAST(:event_profile AS uuid[]), CAST(:key AS text[]), CAST(:at AS timestamptz[]))"
                ),
                {
                    "kind": [x.pair[0] for x in c], "value": [x.pair[1] for x in c], "held": [x.held_by for x in c],
                    "event_profile": [x.event_profile for x in c], "key": [x.event_key for x in c],
                    "at": [x.occurred_at for x in c],
                },
            )
        await add_outbox(self.conn, outbox)

    async def write_profiles(
        self, profiles: Mapping[UUID, Profile], headlines: Mapping[UUID, Headline], merged: Mapping[UUID, UUID]
    ) -> None:
        ids = list(profiles) + list(merged)
        live = [headlines[i] for i in profiles]
        n = len(merged)
        await self.conn.execute(
            text(
                "INSERT INTO profile.profiles AS p (id, merged_into, customer_id, state, stage, segment, "
                "first_seen_at, last_seen_at, last_purchase_at, explicitly_churned) "
                "SELECT u.id, u.merged_into, u.customer_id, CAST(u.state AS jsonb), u.stage, u.segment, "
                "u.first_seen, u.last_seen, u.last_purchase, u.churned "
                "FROM unnest(CAST(:id AS uuid[]), CAST(:merged_into AS uuid[]), CAST(:customer_id AS text[]), "
                "CAST(:state AS text[]), CAST(:stage AS text[]), CAST(:segment AS text[]), "
                "CAST(:first_seen AS timestamptz[]), CAST(:last_seen AS timestamptz[]), "
                "CAST(:last_purchase AS timestamptz[]), CAST(:churned AS boolean[])) "
                "AS u(id, merged_into, customer_id, state, stage, segment, first_seen, last_seen, last_purchase, "
                "churned) "
                "ON CONFLICT (id) DO UPDATE SET merged_into = EXCLUDED.merged_into, "
                "customer_id = EXCLUDED.customer_id, state = EXCLUDED.state, stage = EXCLUDED.stage, "
                "segment = EXCLUDED.segment, first_seen_at = EXCLUDED.first_seen_at, "
                "last_seen_at = EXCLUDED.last_seen_at, last_purchase_at = EXCLUDED.last_purchase_at, "
                "explicitly_churned = EXCLUDED.explicitly_churned, updated_at = now()"
            ),
            {
                "id": ids,
                "merged_into": [None] * len(profiles) + list(merged.values()),
                "customer_id": [p.customer_id for p in profiles.values()] + [None] * n,
                "state": [encode_profile(p) for p in profiles.values()] + [None] * n,
                "stage": [h.stage.value for h in live] + [None] * n,
                "segment": [h.segment for h in live] + [None] * n,
                "first_seen": [h.first_seen for h in live] + [None] * n,
                "last_seen": [h.last_seen for h in live] + [None] * n,
                "last_purchase": [h.last_purchase_at for h in live] + [None] * n,
                "churned": [h.explicitly_churned for h in live] + [False] * n,
            },
        )

    async def _repoint(self, merged: Mapping[UUID, UUID]) -> None:
        """Move what pointed at merged-away profiles that existed before this batch to their survivors."""
        await self.conn.execute(
            text(
                "WITH m AS (SELECT * FROM unnest(CAST(:old AS uuid[]), CAST(:new AS uuid[])) AS m(old, new)), "
                "redirects AS (UPDATE profile.profiles p SET merged_into = m.new FROM m WHERE p.merged_into = m.old), "
                "links AS (UPDATE profile.identities i SET profile_id = m.new FROM m WHERE i.profile_id = m.old) "
                "UPDATE profile.timeline t SET profile_id = m.new FROM m WHERE t.profile_id = m.old"
            ),
            {"old": list(merged), "new": list(merged.values())},
        )

    async def add_timeline(self, rows: Sequence[tuple[UUID, datetime, str, str]], documents: Mapping[str, str]) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO profile.timeline (profile_id, occurred_at, event_key, type, touchpoint) "
                "SELECT u.id, u.at, u.key, u.type, CAST(u.doc AS jsonb) FROM unnest(CAST(:ids AS uuid[]), "
                "CAST(:at AS timestamptz[]), CAST(:keys AS text[]), CAST(:types AS text[]), "
                "CAST(:docs AS text[])) AS u(id, at, key, type, doc) ON CONFLICT DO NOTHING"
            ),
            {
                "ids": [r[0] for r in rows], "at": [r[1] for r in rows], "keys": [r[2] for r in rows],
                "types": [r[3] for r in rows], "docs": [documents[r[2]] for r in rows],
            },
        )


async def add_outbox(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    if not messages:
        return
    await conn.execute(
        text(
            "INSERT INTO profile.outbox (topic, key, value, headers) "
            "SELECT u.topic, u.key, u.value, CAST(u.headers AS jsonb) FROM unnest(CAST(:topics AS text[]), "
            "CAST(:keys AS bytea[]), CAST(:vals AS bytea[]), CAST(:headers AS text[])) "
            "WITH ORDINALITY AS u(topic, key, value, headers, n) ORDER BY u.n"
        ),
        {
            "topics": [m.topic for m in messages],
            "keys": [m.key for m in messages],
            "vals": [m.value for m in messages],
            "headers": [orjson.dumps([[k, v.decode()] for k, v in m.headers]).decode() for m in messages],
        },
    )
