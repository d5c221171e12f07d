"""Reading the services' tables directly: the checker is a verification tool, not a service."""

from collections import Counter
from decimal import Decimal

import asyncpg

from services.chaos.domain.reconcile import Totals
from shared.db import plain_url


class StackDatabase:
    def __init__(self, database_url: str) -> None:
        self.url = plain_url(database_url)

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def sources(self) -> dict[str, str]:
        rows = await self._fetch("SELECT key_id, source FROM auth.api_keys")
        return {row["key_id"]: row["source"] for row in rows}

    async def folded_keys(self) -> frozenset[str]:
        return frozenset(row["key"] for row in await self._fetch("SELECT key FROM profile.processed_events"))

    async def timeline_repeats(self) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT event_key, count(*) AS n FROM profile.timeline GROUP BY event_key HAVING count(*) > 1"
        )
        return {row["event_key"]: int(row["n"]) for row in rows}

    async def timeline_totals(self) -> Totals:
        rows = await self._fetch(
            """
            SELECT type, count(*) AS n,
                   coalesce(sum((touchpoint->'order'->>'revenue')::numeric), 0) AS revenue,
                   coalesce(sum((touchpoint->'cost'->>'amount')::numeric), 0) AS cost
            FROM profile.timeline GROUP BY type
            """
        )
        by_type = {row["type"]: row for row in rows}

        def revenue(kind: str) -> Decimal:
            return Decimal(by_type[kind]["revenue"]) if kind in by_type else Decimal(0)

        gross, refunded, cancelled = revenue("order_completed"), revenue("order_refunded"), revenue("order_cancelled")
        return Totals(
            events=sum(int(row["n"]) for row in rows), gross=gross, refunded=refunded, cancelled=cancelled,
            cost=sum((Decimal(row["cost"]) for row in rows), Decimal(0)), net=gross - refunded - cancelled,
        )

    async def profile_totals(self) -> Totals:
        from services.profile.adapters.codec import decode_profile

        conn = await asyncpg.connect(self.url, timeout=10)
        events, buyers = 0, 0
        gross = refunded = cancelled = cost = net = Decimal(0)
        try:
            async with conn.transaction():
                async for row in conn.cursor("SELECT state::text AS state FROM profile.profiles "
                                             "WHERE merged_into IS NULL"):
                    profile = decode_profile(row["state"])
                    events += profile.events
                    cost += profile.cost
                    for entry in profile.orders.values():
                        refunded += entry.refunded
                        net += entry.standing_revenue
                        if entry.completion is not None:
                            gross += entry.completion.revenue
                            if entry.cancelled is not None:
                                cancelled += entry.completion.revenue
                    buyers += any(entry.counted for entry in profile.orders.values())
        finally:
            await conn.close()
        return Totals(events=events, gross=gross, refunded=refunded, cancelled=cancelled, cost=cost, buyers=buyers,
                      net=net)

    async def metrics_totals(self) -> Totals:
        rows = await self._fetch(
            """
            SELECT coalesce(sum(gross_revenue), 0) AS gross, coalesce(sum(refunded), 0) AS refunded,
                   coalesce(sum(cancelled_amount), 0) AS cancelled, coalesce(sum(cost), 0) AS cost,
                   count(*) FILTER (WHERE gross_revenue - cancelled_amount > 0) AS buyers
            FROM metrics.customers
            """
        )
        row = rows[0]
        gross, refunded, cancelled = Decimal(row["gross"]), Decimal(row["refunded"]), Decimal(row["cancelled"])
        return Totals(gross=gross, refunded=refunded, cancelled=cancelled, cost=Decimal(row["cost"]),
                      buyers=int(row["buyers"]), net=gross - refunded - cancelled)

    async def stored_offsets(self, schema: str) -> dict[tuple[str, int], int]:
        rows = await self._fetch(f"SELECT topic, partition, next_offset FROM {schema}.consumer_offsets")
        return {(row["topic"], int(row["partition"])): int(row["next_offset"]) for row in rows}

    async def outbox_pending(self) -> int:
        rows = await self._fetch("SELECT count(*) AS n FROM profile.outbox WHERE published_at IS NULL")
        return int(rows[0]["n"])

    async def profile_snapshot(self) -> Counter[str]:
        """Every live profile's state with its identities, as canonical text (profile ids left out)."""
        rows = await self._fetch(
            """
            SELECT p.state::text AS state,
                   coalesce(string_agg(i.kind || '=' || i.value, ',' ORDER BY i.kind, i.value), '') AS identities
            FROM profile.profiles p LEFT JOIN profile.identities i ON i.profile_id = p.id
            WHERE p.merged_into IS NULL GROUP BY p.id, p.state::text
            """
        )
        return Counter(f"{row['identities']}|{row['state']}" for row in rows)
