"""The identity graph and profiles in Postgres, read and written a batch at a time.

Concurrency protocol (several consumers of one group fold side by side):

1. Every identity pair of the batch is locked with a transaction-level advisory lock, in a
   fixed order (sorted 64-bit hashes), in the statement that claims the batch's event keys
   (the permanent dedup). Only a holder of a pair's lock may link that pair to a profile, so
   two consumers never create two profiles for one new identity.
2. The profiles those pairs point to are locked `FOR UPDATE` in sorted id order; a state is
   read only when the profile cache does not hold the row's current version. A merge
   repoints identities only while holding both profiles' locks, so once every locked row is
   live (not merged away, not erased) the owners read before locking are still the owners:
   `FOR UPDATE` returns the latest committed version of each row, so a merge or an erasure
   that committed meanwhile shows, and no second read is needed. Otherwise the owners are
   read again and the new ones locked too (a deadlock this may cause is retried by the
   consumer loop, SQLSTATE 40P01).
3. All writes are batched, whatever the batch size: one statement for the graph (identities,
   timeline, merges, conflicts) and one for the profile rows and the outbox.

Identities and timeline rows of a merged-away profile are repointed to its survivor, and
earlier redirects to it are shortened, so `merged_into` is always a single hop.
"""

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.profile.adapters.codec import decode_profile, encode_profile
from services.profile.adapters.messages import OutboxMessage
from services.profile.adapters.profile_cache import ProfileCache
from services.profile.domain.fold import utc
from services.profile.domain.identity import IdentityPair
from services.profile.domain.lifecycle import Headline
from services.profile.domain.model import Profile
from services.profile.domain.resolution import BatchOutcome, GraphView

_MAX_ROUNDS = 20


class GraphKeptMoving(RuntimeError):
    """The profiles of a batch kept being merged or erased under it; the batch is retried."""


@functools.lru_cache(maxsize=100_000)  # a customer's identities come back batch after batch
def pair_lock_key(pair: IdentityPair) -> int:
    digest = hashlib.blake2b(f"{pair[0]}\x1f{pair[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresGraphStore:
    def __init__(self, conn: AsyncConnection, cache: ProfileCache | None = None) -> None:
        self.conn = conn
        self.cache = cache

    async def claim_and_lock(self, keys: Sequence[str], pairs: Sequence[IdentityPair]) -> set[str]:
        """Claim the event keys for good (those never seen before come back) and take the locks of
        the identity pairs (1.), in one round trip."""
        if not keys:
            return set()
        row = (
            await self.conn.execute(
                text(
                    "WITH claimed AS (INSERT INTO profile.processed_events (key) "
                    "SELECT unnest(CAST(:keys AS text[])) ON CONFLICT DO NOTHING RETURNING key) "
                    "SELECT ARRAY(SELECT key FROM claimed) AS fresh, (SELECT count(*) FROM "
                    "unnest(CAST(:locks AS bigint[])) AS k CROSS JOIN LATERAL pg_advisory_xact_lock(k)) AS locked"
                ),
                {"keys": list(dict.fromkeys(keys)), "locks": sorted({pair_lock_key(p) for p in pairs})},
            )
        ).one()
        return set(row.fresh)

    async def lock_view(self, pairs: Sequence[IdentityPair]) -> GraphView:
        """The owners of `pairs` and their profiles, locked (2.); `pairs` must be locked already."""
        unique = list(dict.fromkeys(pairs))
        profiles: dict[UUID, Profile] = {}
        for _ in range(_MAX_ROUNDS):
            owners = await self._owners(unique)
            missing = sorted(set(owners.values()) - profiles.keys())
            if not missing:
                return GraphView(owners=owners, profiles=profiles)
            cached = self.cache.versions(missing) if self.cache is not None else {}
            rows = await self.conn.execute(
                text(
                    "SELECT p.id, p.merged_into, CASE WHEN p.version = c.version THEN NULL "
                    "ELSE p.state::text END AS state FROM profile.profiles p "
                    "JOIN unnest(CAST(:ids AS uuid[]), CAST(:versions AS bigint[])) AS c(id, version) "
                    "ON c.id = p.id WHERE p.id = ANY(CAST(:ids AS uuid[])) ORDER BY p.id FOR UPDATE OF p"
                ),
                {"ids": missing, "versions": [cached[i][0] if i in cached else None for i in missing]},
            )
            live = 0
            for row in rows:
                if row.merged_into is None:  # live; its state is NULL exactly when the cached version is current
                    profiles[row.id] = decode_profile(row.state) if row.state is not None else cached[row.id][1]
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

    async def write_graph(self, outcome: BatchOutcome, *, documents: Mapping[str, str]) -> None:
        """The batch's graph, in one statement: redirects, identities and timeline rows of merged-away
        profiles moved to their survivors, new identity links, the batch's timeline entries, merges
        and conflicts. The parts touch disjoint rows (moved rows belong to merged-away profiles, new
        links and entries are new, and their pairs are locked), so one snapshot serves them all."""
        stored_merged = [(old, new) for old, new in outcome.merged_into.items() if old not in outcome.created]
        links = list(outcome.links.items())
        placed = outcome.placements
        m, c = outcome.merges, outcome.conflicts
        await self.conn.execute(
            text(
                "WITH m AS (SELECT * FROM unnest(CAST(:old AS uuid[]), CAST(:new AS uuid[])) AS m(old, new)), "
                "redirects AS (UPDATE profile.profiles p SET merged_into = m.new FROM m WHERE p.merged_into = m.old "
                "AND p.merged_into = ANY(CAST(:old AS uuid[]))), "
                "moved AS (UPDATE profile.identities i SET profile_id = m.new FROM m WHERE i.profile_id = m.old "
                "AND i.profile_id = ANY(CAST(:old AS uuid[]))), "
                "retimed AS (UPDATE profile.timeline t SET profile_id = m.new FROM m WHERE t.profile_id = m.old "
                "AND t.profile_id = ANY(CAST(:old AS uuid[]))), "
                "linked AS (INSERT INTO profile.identities (kind, value, profile_id) "
                "SELECT * FROM unnest(CAST(:link_kinds AS text[]), CAST(:link_values AS text[]), "
                "CAST(:link_ids AS uuid[])) ON CONFLICT (kind, value) DO UPDATE SET profile_id = EXCLUDED.profile_id), "
                "placed AS (INSERT INTO profile.timeline (profile_id, occurred_at, event_key, type, touchpoint) "
                "SELECT u.id, u.at, u.key, u.type, CAST(u.doc AS json) FROM unnest(CAST(:tl_ids AS uuid[]), "
                "CAST(:tl_at AS timestamptz[]), CAST(:tl_keys AS text[]), CAST(:tl_types AS text[]), "
                "CAST(:tl_docs AS text[])) AS u(id, at, key, type, doc) ON CONFLICT DO NOTHING), "
                "merged AS (INSERT INTO profile.merges (survivor_id, merged_id, reason, event_key, occurred_at) "
                "SELECT * FROM unnest(CAST(:m_s AS uuid[]), CAST(:m_m AS uuid[]), CAST(:m_r AS text[]), "
                "CAST(:m_k AS text[]), CAST(:m_t AS timestamptz[]))) "
                "INSERT INTO profile.identity_conflicts "
                "(kind, value, held_by, event_profile_id, event_key, occurred_at) "
                "SELECT * FROM unnest(CAST(:c_kind AS text[]), CAST(:c_value AS text[]), CAST(:c_held AS uuid[]), "
                "CAST(:c_event_profile AS uuid[]), CAST(:c_key AS text[]), CAST(:c_at AS timestamptz[]))"
            ),
            {
                "old": [old for old, _ in stored_merged], "new": [new for _, new in stored_merged],
                "link_kinds": [p[0] for p, _ in links], "link_values": [p[1] for p, _ in links],
                "link_ids": [i for _, i in links],
                "tl_ids": [p.profile_id for p in placed], "tl_at": [utc(p.event.occurred_at) for p in placed],
                "tl_keys": [p.event.dedup_key for p in placed], "tl_types": [p.event.type for p in placed],
                "tl_docs": [documents[p.event.dedup_key] for p in placed],
                "m_s": [x.survivor for x in m], "m_m": [x.merged for x in m], "m_r": [x.reason for x in m],
                "m_k": [x.event_key for x in m], "m_t": [x.occurred_at for x in m],
                "c_kind": [x.pair[0] for x in c], "c_value": [x.pair[1] for x in c], "c_held": [x.held_by for x in c],
                "c_event_profile": [x.event_profile for x in c], "c_key": [x.event_key for x in c],
                "c_at": [x.occurred_at for x in c],
            },
        )

    async def save_profiles(
        self,
        outcome: BatchOutcome,
        *,
        headlines: Mapping[UUID, Headline],
        states: Mapping[UUID, str],
        outbox: Sequence[OutboxMessage],
    ) -> Mapping[UUID, int]:
        """The profile rows of the batch and its outbox messages, in one statement; returns the row
        version each live profile was written at."""
        return await self._upsert_profiles(
            outcome.profiles,
            headlines,
            states,
            outcome.merged_into,
            outbox_sql=_OUTBOX_CTE,
            outbox=_outbox_params(outbox),
        )

    async def write_profiles(
        self, profiles: Mapping[UUID, Profile], headlines: Mapping[UUID, Headline], merged: Mapping[UUID, UUID]
    ) -> dict[UUID, int]:
        """Upsert live profiles and merged-away rows; returns the version each live profile was written at."""
        states = {pid: encode_profile(profile) for pid, profile in profiles.items()}
        return await self._upsert_profiles(profiles, headlines, states, merged, outbox_sql="", outbox={})

    async def _upsert_profiles(
        self,
        profiles: Mapping[UUID, Profile],
        headlines: Mapping[UUID, Headline],
        states: Mapping[UUID, str],
        merged: Mapping[UUID, UUID],
        *,
        outbox_sql: str,
        outbox: Mapping[str, Any],
    ) -> dict[UUID, int]:
        ids = list(profiles) + list(merged)
        live = [headlines[i] for i in profiles]
        n = len(merged)
        rows = await self.conn.execute(
            text(
                outbox_sql + "INSERT INTO profile.profiles AS p (id, merged_into, customer_id, state, stage, segment, "
                "first_seen_at, last_seen_at, last_purchase_at, explicitly_churned) "
                "SELECT u.id, u.merged_into, u.customer_id, CAST(u.state AS json), u.stage, u.segment, "
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
                "explicitly_churned = EXCLUDED.explicitly_churned, updated_at = now(), version = p.version + 1 "
                "RETURNING p.id, p.version"
            ),
            {
                "id": ids,
                "merged_into": [None] * len(profiles) + list(merged.values()),
                "customer_id": [p.customer_id for p in profiles.values()] + [None] * n,
                "state": [states[i] for i in profiles] + [None] * n,
                "stage": [h.stage.value for h in live] + [None] * n,
                "segment": [h.segment for h in live] + [None] * n,
                "first_seen": [h.first_seen for h in live] + [None] * n,
                "last_seen": [h.last_seen for h in live] + [None] * n,
                "last_purchase": [h.last_purchase_at for h in live] + [None] * n,
                "churned": [h.explicitly_churned for h in live] + [False] * n,
                **outbox,
            },
        )
        return {row.id: row.version for row in rows if row.id in profiles}


_OUTBOX_CTE = (
    "WITH outbox AS (INSERT INTO profile.outbox (topic, key, value, headers) "
    "SELECT u.topic, u.key, u.value, CAST(u.headers AS json) FROM unnest(CAST(:topics AS text[]), "
    "CAST(:keys AS bytea[]), CAST(:vals AS bytea[]), CAST(:headers AS text[])) "
    "WITH ORDINALITY AS u(topic, key, value, headers, n) ORDER BY u.n) "
)


def _outbox_params(messages: Sequence[OutboxMessage]) -> dict[str, Any]:
    return {
        "topics": [m.topic for m in messages],
        "keys": [m.key for m in messages],
        "vals": [m.value for m in messages],
        "headers": [orjson.dumps([[k, v.decode()] for k, v in m.headers]).decode() for m in messages],
    }


async def add_outbox(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Queue messages in profile.outbox, in order (ids follow the sequence)."""
    if messages:
        await conn.execute(text(_OUTBOX_CTE + "SELECT 1"), _outbox_params(messages))
